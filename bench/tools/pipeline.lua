-- wrk script: pipelined load. `wrk -s pipeline.lua URL -- DEPTH PATH` sends DEPTH GET requests for PATH
-- in one write per turn and reads DEPTH responses before the next write (wrk counts each response).
local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  local path = args[2] or "/plaintext"
  local one = wrk.format("GET", path)
  batch = string.rep(one, depth)
end

function request()
  return batch
end
