-- wrk script for bench/run_serving.sh: POST /api/predict with a JSON body read from the file
-- named by the environment variable WRK_BODY_FILE ({"image": "data:image/png;base64,..."}).
-- Usage: WRK_BODY_FILE=body.json wrk -s bench/wrk_predict.lua --latency http://HOST:PORT/api/predict
local path = os.getenv("WRK_BODY_FILE")
if path == nil or path == "" then
  error("wrk_predict.lua: set WRK_BODY_FILE to the JSON body file")
end
local file = assert(io.open(path, "rb"), "wrk_predict.lua: cannot open " .. path)
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
