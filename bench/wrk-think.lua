-- wrk with think time: each connection waits WRK_THINK_MS (default 40) before its next request,
-- so C connections offer a steady rate instead of wrk's usual "as fast as answers come back".
-- Prints the same WRK_JSON totals line as wrk-report.lua.
local think = tonumber(os.getenv("WRK_THINK_MS") or "40")

delay = function()
  return think
end

done = function(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,' ..
      '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\n',
    summary.duration, summary.requests, summary.bytes,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status))
end
