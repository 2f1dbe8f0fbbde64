-- wrk script for bench/soak.sh: a mixed load on the gateway. Of every 10 requests, 8 are
-- POST /api/predict with a real digit PNG (the body file named by WRK_BODY_FILE, raw
-- image/png bytes), 1 is GET /api/sample_predictions?n=4 and 1 is GET /api/model_info.
-- At the end it prints one line: "soak-mix: predict=P samples=S model_info=M non2xx=N" (what
-- each thread sent and the non-2xx replies it saw), for the soak report.
-- Usage: WRK_BODY_FILE=digit.png wrk -s bench/soak/mixed.lua --latency http://HOST:PORT
local path = os.getenv("WRK_BODY_FILE")
if path == nil or path == "" then
  error("mixed.lua: set WRK_BODY_FILE to a PNG file")
end
local file = assert(io.open(path, "rb"), "mixed.lua: cannot open " .. path)
local png = file:read("*a")
file:close()

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  n, predicts, samples, infos, non2xx = 0, 0, 0, 0, 0
  predict = wrk.format("POST", "/api/predict", {["Content-Type"] = "image/png"}, png)
  sample = wrk.format("GET", "/api/sample_predictions?n=4")
  info = wrk.format("GET", "/api/model_info")
end

function request()
  n = n + 1
  local k = n % 10
  if k == 3 then
    samples = samples + 1
    return sample
  elseif k == 7 then
    infos = infos + 1
    return info
  end
  predicts = predicts + 1
  return predict
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local p, s, m, e = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    p = p + t:get("predicts")
    s = s + t:get("samples")
    m = m + t:get("infos")
    e = e + t:get("non2xx")
  end
  io.write(string.format("soak-mix: predict=%d samples=%d model_info=%d non2xx=%d\n", p, s, m, e))
end
