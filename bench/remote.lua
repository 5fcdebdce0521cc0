-- wrk script of bench/remote.py: rotate over a list of requests (GET paths or POST forms).
--
--   wrk -t2 -c16 -d10s --latency -s bench/remote.lua URL -- REQUESTS MODE RUN
--
-- REQUESTS: one request per line, "GET<TAB>path" (a canned query of jllm-kg, with {limit} and
-- {offset} where the page parameters go) or "POST<TAB>form" (the same SPARQL sent straight to the
-- store; {comment} where a comment line may go). MODE "repeated" sends them as they are
-- (limit=1000, offset=0, no comment); "unique" makes every request new while its answer stays the
-- same: limit 1000…9999 and offset "0", "00", … (no response cache can answer), or a comment line.
-- RUN must differ between runs against the same server. Prints one line "RESULT {json}".

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local lines, mode, run, index, counter
local form = {["Content-Type"] = "application/x-www-form-urlencoded", ["Accept"] = "application/sparql-results+json"}
local get = {["Accept"] = "application/sparql-results+json"}

function init(args)
  local file = assert(io.open(args[1], "r"))
  lines = {}
  for line in file:lines() do
    local method, rest = line:match("^(%u+)\t(.*)$")
    if method then table.insert(lines, {method, rest}) end
  end
  file:close()
  mode, run = args[2] or "repeated", tonumber(args[3] or "0")
  index, counter = (id or 0) * 3 % #lines, 0
end

function request()
  index = index % #lines + 1
  local method, text = lines[index][1], lines[index][2]
  local limit, offset, comment = "1000", "0", ""
  if mode == "unique" then
    local n = run * 20000 + (id or 0) * 10000 + counter
    counter = counter + 1
    limit = tostring(1000 + n % 9000)
    offset = string.rep("0", 1 + math.floor(n / 9000) % 10)
    comment = "%23%20u" .. run .. "-" .. (id or 0) .. "-" .. counter .. "%0A"
  end
  text = text:gsub("{limit}", function() return limit end):gsub("{offset}", function() return offset end)
  text = text:gsub("{comment}", function() return comment end)
  if method == "GET" then
    return wrk.format("GET", text, get)
  end
  return wrk.format("POST", wrk.path, form, text)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
