-- wrk script: confirms of the holds ID_FIRST..ID_LAST, each once (the two threads take turns:
-- thread 1 the odd steps, thread 2 the even ones). Past ID_LAST it confirms ID_LAST again (answered
-- as confirmed before): give it more holds than the run can confirm.
local first = tonumber(os.getenv("ID_FIRST"))
local last = tonumber(os.getenv("ID_LAST"))
local counter = 0
local thread_id = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")

setup = function(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

request = function()
  local id = math.min(first + counter * 2 + (tid - 1), last)
  counter = counter + 1
  return wrk.format(nil, "/api/reservations/" .. id .. "/confirm", nil, '{"unit_price":"9.99"}')
end

done = function(summary, latency, requests)
  io.write(string.format("WRK requests=%d non2xx=%d errors=%d p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
