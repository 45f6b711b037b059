-- wrk script: reservations of one unit of a hot SKU, each for its own order (thread id + counter).
-- ORDER_PREFIX (default "w") keeps two runs' orders apart: a second run with the same refs only finds
-- the holds the first one made (an order's hold is answered again, not made twice).
local hot = os.getenv("HOT_SKU")
local prefix = os.getenv("ORDER_PREFIX") or "w"
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
  counter = counter + 1
  return wrk.format(nil, "/api/reservations", nil,
    '{"sku":"' .. hot .. '","quantity":1,"order_ref":"' .. prefix .. tostring(tid) .. '-' .. counter .. '"}')
end

done = function(summary, latency, requests)
  io.write(string.format("WRK requests=%d non2xx=%d errors=%d p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
