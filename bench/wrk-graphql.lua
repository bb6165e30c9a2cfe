-- wrk script used by gql-load.sh: POSTs one JSON GraphQL body (file named by
-- $GQL_BODY_FILE) on every request, with the Authorization header $GQL_AUTH
-- when set, and prints a machine-readable RESULT line.
local f = assert(io.open(os.getenv("GQL_BODY_FILE"), "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local auth = os.getenv("GQL_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

-- `@AGO:N@` in the body becomes the instant N seconds before the request,
-- with the request's number as microseconds so that no two are the same: a
-- console preset range ("last 7 days") moves with the clock.
if string.find(body, "@AGO:", 1, true) then
  local sent = 0
  function request()
    sent = sent + 1
    local now = os.time()
    local filled = string.gsub(body, "@AGO:(%d+)@", function(secs)
      return os.date("!%Y-%m-%dT%H:%M:%S", now - tonumber(secs)) .. string.format(".%06dZ", sent % 1000000)
    end)
    return wrk.format(nil, nil, nil, filled)
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

-- Per-thread counters (globals so that done() can read them with thread:get).
-- Every 64th response is checked (a 2xx status, no GraphQL errors), to keep
-- wrk's own CPU use low.
responses, sampled, bad = 0, 0, 0
function response(status, headers, body)
  responses = responses + 1
  if responses % 64 == 1 then
    sampled = sampled + 1
    if status < 200 or status > 299 or string.find(body, '"errors"', 1, true) then
      bad = bad + 1
    end
  end
end

function done(summary, latency, requests)
  local s, b = 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("sampled")
    b = b + t:get("bad")
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f req_per_s=%.1f mean_ms=%.3f p50_ms=%.3f p90_ms=%.3f "
      .. "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d timeouts=%d "
      .. "bytes_per_req=%.0f sampled=%d sampled_with_errors=%d\n",
    summary.requests, secs, summary.requests / secs, latency.mean / 1000,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write, e.timeout,
    summary.requests > 0 and summary.bytes / summary.requests or 0, s, b))
end
