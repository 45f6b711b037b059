-- wrk script: single-unit SELLs, on one hot SKU or spread over many ("SKU_PREFIX" + 1..N).
local hot = os.getenv("HOT_SKU")
local prefix = os.getenv("SKU_PREFIX")
local n = tonumber(os.getenv("SKU_COUNT") or "1")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
-- ACCEPT_ENCODING=gzip: as most HTTP client libraries send by default
if os.getenv("ACCEPT_ENCODING") then wrk.headers["Accept-Encoding"] = os.getenv("ACCEPT_ENCODING") end

request = function()
  local sku = hot
  if not hot then sku = prefix .. math.random(1, n) end
  return wrk.format(nil, "/api/transactions",
    nil, '{"sku":"' .. sku .. '","type":"SELL","quantity":1,"unit_price":"9.99"}')
end

done = function(summary, latency, requests)
  io.write(string.format("WRK requests=%d non2xx=%d errors=%d p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
