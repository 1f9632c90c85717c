-- Replays pre-signed requests: one file per wrk thread, one request per line:
-- path TAB header1\31header2... TAB body
local thread_counter = 0
function setup(thread)
  thread:set("tid", thread_counter)
  thread_counter = thread_counter + 1
end

function init(args)
  reqs = {}
  local f = assert(io.open(args[1] .. "." .. tid, "r"))
  for line in f:lines() do
    local p1 = line:find("\t", 1, true)
    local p2 = line:find("\t", p1 + 1, true)
    local path = line:sub(1, p1 - 1)
    local hdrs = {}
    for h in line:sub(p1 + 1, p2 - 1):gmatch("[^\31]+") do
      local c = h:find(":", 1, true)
      hdrs[h:sub(1, c - 1)] = h:sub(c + 2)
    end
    table.insert(reqs, wrk.format("POST", path, hdrs, line:sub(p2 + 1)))
  end
  f:close()
  idx = 0
end

function request()
  idx = idx + 1
  if idx > #reqs then idx = 1 end
  return reqs[idx]
end
