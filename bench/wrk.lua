-- wrk script of bench/run.py: rotates over prepared requests (one per line of the file named by the first script
-- argument: the path, then tab-separated "Name: value" headers, e.g. the signed-in user's cookie), counts every
-- non-2xx response but 304 (wrk itself counts only >= 400), and prints one line of JSON when done.
--   wrk -t1 -c16 -d20s --latency -s bench/wrk.lua http://127.0.0.1:8000 -- requests.tsv

local prepared = {}
local position = 0
local threads = {}
non2xx = 0  -- a global, so done() can read each thread's count with thread:get()

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local fields = {}
    for field in line:gmatch("[^\t]+") do
      table.insert(fields, field)
    end
    if #fields > 0 then
      local headers = {}
      for i = 2, #fields do
        local name, value = fields[i]:match("^([^:]+):%s*(.*)$")
        headers[name] = value
      end
      table.insert(prepared, wrk.format("GET", fields[1], headers))
    end
  end
  file:close()
  assert(#prepared > 0, "no requests in " .. args[1])
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end

function response(status, headers, body)
  -- 304 answers a poll's If-None-Match: the browser's copy is still right.
  if (status < 200 or status > 299) and status ~= 304 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local not_ok = 0
  for _, thread in ipairs(threads) do
    not_ok = not_ok + thread:get("non2xx")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"non2xx": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    not_ok, errors.connect, errors.read, errors.write, errors.timeout))
end
