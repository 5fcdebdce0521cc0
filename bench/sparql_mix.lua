-- wrk script: POST SPARQL forms, rotating over a list of queries (bench/endpoint.py writes it).
--
--   wrk -t2 -c16 -d12s --latency -s bench/sparql_mix.lua http://127.0.0.1:PORT/sparql -- QUERIES MODE
--
-- QUERIES: a file with one URL-encoded query text per line (the 3:1:1 lookup/lineage/aggregate
-- rotation). MODE: "repeated" sends those texts as they are (a fixed set), "unique" puts a
-- comment line "# u<run>-<thread>-<counter>" before each text, so that no two requests are the
-- same text (no cache can answer them) while the answers stay the same. RUN must differ between
-- runs against the same server (bench/endpoint.py passes a fresh one each time).
-- At the end it prints one line "RESULT {json}" with the counts and latency percentiles (µs).

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local texts, mode, requests_fixed, n, index, run
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Accept"] = "application/sparql-results+json",
}

function init(args)
  local file = assert(io.open(args[1], "r"))
  texts = {}
  for line in file:lines() do
    if #line > 0 then table.insert(texts, line) end
  end
  file:close()
  mode = args[2] or "repeated"
  run = args[3] or "0"
  n = #texts
  index = 0
  counter = 0
  if mode == "repeated" then
    requests_fixed = {}
    for i, text in ipairs(texts) do
      requests_fixed[i] = wrk.format("POST", wrk.path, headers, "query=" .. text)
    end
  end
  -- threads start at different places of the rotation
  index = ((id or 1) - 1) * 7 % n
end

function request()
  index = index % n + 1
  if mode == "repeated" then
    return requests_fixed[index]
  end
  counter = counter + 1
  local body = "query=%23%20u" .. run .. "-" .. (id or 0) .. "-" .. counter .. "%0A" .. texts[index]
  return wrk.format("POST", wrk.path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
