-- wrk script: z15 heat tiles over the Dongcheng demo, each thread walking
-- its own share of the demo district's 90 tiles in turn (x 26977..26982,
-- y 12408..12422), with the filter given in the environment.
local counter = 0
local thread_id = 0
local threads = {}
local query = os.getenv("HT_QUERY") or ""
local style = os.getenv("HT_STYLE") or "heat"

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function request()
  local nx, ny = 6, 15
  local k = (counter * 7 + thread_id * 101) % (nx * ny)
  counter = counter + 1
  local x = 26977 + k % nx
  local y = 12408 + math.floor(k / nx)
  local path = string.format("/tiles/%s/15/%d/%d.png", style, x, y)
  if query ~= "" then
    path = path .. "?" .. query
  end
  return wrk.format("GET", path)
end
