package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts. Each touches only keys of one hash slot: the keys it is given, or keys it
// builds under the hash-tagged head of the bucket it was given (ARGV), and it checks with
// luaBucket that a primary key belongs to that bucket before building a key for it.

// luaBucket reproduces keyspace.bucket: the shard tag of a primary key's first ID, hashed.
const luaBucket = `
local function bucket(key, n)
  local slash = string.find(key, '/', 1, true)
  if slash then key = string.sub(key, 1, slash - 1) end
  local h = 0
  if #key >= 4 then
    local s = string.sub(key, -4)
    for i = 1, 4 do h = (h * 31 + string.byte(s, i)) % 65521 end
  end
  return h % n
end
`

// scriptPage reads one newest-first page of a listing index and its records in one call.
// KEYS: the index. ARGV: the ZREVRANGEBYLEX max, the limit, the head of the records' keys
// (bucket head + record tail), the number of buckets, the index's bucket. It returns flat
// primary key, record pairs; a record is "" when missing and "-" when it lives in another
// bucket (the caller reads those itself).
var scriptPage = redis.NewScript(luaBucket + `
local keys = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], '-', 'LIMIT', 0, tonumber(ARGV[2]))
local n, b = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for _, k in ipairs(keys) do
  out[#out + 1] = k
  if bucket(k, n) == b then
    out[#out + 1] = redis.call('GET', ARGV[3] .. k) or ''
  else
    out[#out + 1] = '-'
  end
end
return out
`)

// scriptRecordUse keeps the latest last-used time per existing credential. KEYS: the
// bucket's last-used hash. ARGV: the head of the bucket's credential record keys, then pairs
// of credential ID and fixed-width UTC time.
var scriptRecordUse = redis.NewScript(`
for i = 2, #ARGV, 2 do
  local id, at = ARGV[i], ARGV[i + 1]
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then
    local old = redis.call('HGET', KEYS[1], id)
    if not old or old < at then redis.call('HSET', KEYS[1], id, at) end
  end
end
return 0
`)

// scriptPutOnce stores a single-use key unless a live one is stored. KEYS: the key. ARGV:
// now as an expiry stamp, the new value (expiry stamp + payload), the PX in milliseconds.
var scriptPutOnce = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 20) > ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[3]))
return 1
`)

// scriptCAS sets a key to ARGV[2] if it holds ARGV[1] and returns 1, else 0.
var scriptCAS = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// scriptReleasePtr deletes a pointer if it still names ARGV[1] (its value starts with
// ARGV[1] and a '|'), or if it holds exactly ARGV[2] when that is given.
var scriptReleasePtr = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if ARGV[2] ~= '' then
  if v == ARGV[2] then redis.call('DEL', KEYS[1]) return 1 end
  return 0
end
if string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)
