-- wrk script: rotate over a list of requests (bench/reliability.py writes it), count statuses.
--
--   wrk -t2 -c64 -d60s --latency -s bench/requests.lua http://127.0.0.1:PORT -- REQUESTS
--
-- REQUESTS: one request per line, tab-separated: METHOD, path (with its query string), body
-- ("-" for none; a POST body is sent as an application/x-www-form-urlencoded form), Accept.
-- "{n}" in a path or body is replaced by "<RUN>-<thread>-<counter>", which makes that request's
-- text differ every time (no cache can answer it); RUN must differ between runs against one server.
-- At the end it prints one line "RESULT {json}": counts, latency percentiles (µs), statuses.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local list, fixed, n, index, counter, run

function init(args)
  local file = assert(io.open(args[1], "r"))
  list, fixed = {}, {}
  for line in file:lines() do
    local method, path, body, accept = line:match("^([^\t]+)\t([^\t]+)\t([^\t]*)\t([^\t]*)$")
    if method then
      local headers = { ["Accept"] = accept }
      if body == "-" then body = nil else headers["Content-Type"] = "application/x-www-form-urlencoded" end
      local entry = { method = method, path = path, body = body, headers = headers }
      if not (path:find("{n}", 1, true) or (body and body:find("{n}", 1, true))) then
        entry.request = wrk.format(method, path, headers, body)
      end
      table.insert(list, entry)
    end
  end
  file:close()
  run = args[2] or "0"
  n = #list
  index = ((id or 1) - 1) * 3 % n
  counter = 0
  statuses = {}
  messages = {}
end

function request()
  index = index % n + 1
  local entry = list[index]
  if entry.request then return entry.request end
  counter = counter + 1
  local tag = run .. "-" .. (id or 0) .. "-" .. counter
  local path = entry.path:gsub("{n}", tag)
  local body = entry.body and entry.body:gsub("{n}", tag) or nil
  return wrk.format(entry.method, path, entry.headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 400 then
    local message = body and body:match('"error": "([^"]*)"') or ""
    message = message:gsub("%d+", "N"):gsub("[%c\\]", " ")
    local key = status .. " " .. message:sub(1, 60)
    messages[key] = (messages[key] or 0) + 1
  end
end

function done(summary, latency, requests)
  local merged, why = {}, {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses") or {}
    for status, count in pairs(counts) do merged[status] = (merged[status] or 0) + count end
    local seen = thread:get("messages") or {}
    for key, count in pairs(seen) do why[key] = (why[key] or 0) + count end
  end
  local parts, reasons = {}, {}
  for status, count in pairs(merged) do table.insert(parts, string.format('"%d": %d', status, count)) end
  for key, count in pairs(why) do table.insert(reasons, string.format('"%s": %d', key:gsub('"', "'"), count)) end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, "statuses": {%s}, "errors": {%s}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(parts, ", "), table.concat(reasons, ", ")))
end
