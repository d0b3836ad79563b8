-- wrk replays requests pre-signed by presign.py: each Authorization header once, split
-- among wrk's threads. SIGNED names the file, THREADS wrk's -t. A thread that runs out
-- sends its last header again: the server refuses the replay (nonce_used) and wrk counts
-- it under "Non-2xx", so running short shows.
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local threads = tonumber(os.getenv("THREADS"))
  headers = {}
  local line_number = 0
  for line in io.lines(os.getenv("SIGNED")) do
    if line_number % threads == id then
      headers[#headers + 1] = line
    end
    line_number = line_number + 1
  end
  sent = 0
end

function request()
  sent = sent + 1
  local header = headers[sent] or headers[#headers]
  return wrk.format("GET", nil, { ["Authorization"] = header })
end
