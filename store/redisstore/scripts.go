package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts. Each touches only keys of one hash slot: the keys it is given, or keys it
// builds under the hash-tagged head of the bucket it was given (ARGV), and it checks with
// luaBucket that an ID belongs to that bucket before building a key for it.

// luaBucket reproduces keyspace.bucket.
const luaBucket = `
local function bucket(id, n)
  local h = 0
  local s = string.sub(id, -4)
  if #id < 4 then s = '' end
  for i = 1, #s do h = (h * 31 + string.byte(s, i)) % 65521 end
  return h % n
end
`

// scriptAuth returns a credential, its last-used time and its owner's state in one call:
// the verifier's cache miss. KEYS: credential record, last-used hash. ARGV: credential ID,
// head of the credential's bucket, number of buckets, that bucket. The state is 0 missing,
// 1 active, 2 inactive, or -1 when the owner or account lives in another bucket (the caller
// then asks again).
var scriptAuth = redis.NewScript(luaBucket + `
local c = redis.call('GET', KEYS[1])
if not c then return false end
local lu = redis.call('HGET', KEYS[2], ARGV[1]) or ''
local obj = cjson.decode(c)
local owner, acc = obj['owner_id'], obj['account_id']
local n, b = tonumber(ARGV[3]), tonumber(ARGV[4])
if type(owner) ~= 'string' or type(acc) ~= 'string' or bucket(owner, n) ~= b or bucket(acc, n) ~= b then
  return {c, lu, -1}
end
local st = 0
local bot = redis.call('GET', ARGV[2] .. 'bot:' .. owner)
if bot then
  local bo = cjson.decode(bot)
  if bo['account_id'] == acc then
    if bo['active'] then st = 1 else st = 2 end
  end
else
  local m = redis.call('GET', ARGV[2] .. 'x:' .. acc .. ':mem:' .. owner)
  if m then
    if cjson.decode(m)['status'] == 'active' then st = 1 else st = 2 end
  end
end
return {c, lu, st}
`)

// scriptPage reads one newest-first page of an index and its records in one call. KEYS:
// the index, the last-used hash (credentials) or the index again. ARGV: the ZREVRANGEBYLEX
// max, the limit, the head of the records' keys, "1" to return last-used times, the number
// of buckets, the index's bucket. It returns flat id, record[, last-used] tuples; a record
// is "" when missing and "-" when it lives in another bucket.
var scriptPage = redis.NewScript(luaBucket + `
local ids = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], '-', 'LIMIT', 0, tonumber(ARGV[2]))
local n, b = tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {}
for _, id in ipairs(ids) do
  out[#out + 1] = id
  local local_ = ARGV[7] == '1' or bucket(id, n) == b
  if local_ then
    out[#out + 1] = redis.call('GET', ARGV[3] .. id) or ''
  else
    out[#out + 1] = '-'
  end
  if ARGV[4] == '1' then
    if local_ then out[#out + 1] = redis.call('HGET', KEYS[2], id) or '' else out[#out + 1] = '' end
  end
end
return out
`)

// scriptRecordUse keeps the latest last-used time per existing credential. KEYS: the
// bucket's last-used hash. ARGV: the head of the bucket's credential keys, then pairs of
// credential ID and fixed-width UTC time.
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

// scriptFeed reads feed streams. KEYS: the streams. ARGV: the most entries to read per
// stream (0: none), then for each stream the position's ID to read after. For each stream it
// returns four fields, then up to that many entries after the position as pairs of ID and
// the entry's "c" field. The fields are the stream's length, entries-added,
// last-generated-id and oldest entry's ID ("0-0" when empty); a missing stream reads as one
// never written to. When entries are asked for and the stream still holds the position's own
// entry, nothing after it can have been trimmed (streams are trimmed oldest first), and
// the script skips XINFO: the fields are then -1, 0, "0-0", "0-0". XINFO STREAM's
// entries-added needs Redis 7.
var scriptFeed = redis.NewScript(`
local count = tonumber(ARGV[1])
local function add(r, e)
  local c = ''
  for j = 1, #e[2], 2 do
    if e[2][j] == 'c' then c = e[2][j + 1] end
  end
  r[#r + 1] = e[1]
  r[#r + 1] = c
end
local out = {}
for i, k in ipairs(KEYS) do
  local from = ARGV[i + 1]
  local r = nil
  if count > 0 and from ~= '0-0' then
    local es = redis.call('XRANGE', k, from, '+', 'COUNT', count + 1)
    if #es > 0 and es[1][1] == from then
      r = {-1, 0, '0-0', '0-0'}
      for j = 2, #es do add(r, es[j]) end
    end
  end
  if not r then
    r = {0, 0, '0-0', '0-0'}
    if redis.call('EXISTS', k) == 1 then
      local info = redis.call('XINFO', 'STREAM', k)
      local f = {}
      for j = 1, #info, 2 do f[info[j]] = info[j + 1] end
      if not f['entries-added'] then
        return redis.error_reply('ERR the iamkit change feed needs Redis 7 or later (XINFO STREAM entries-added)')
      end
      r = {f['length'], f['entries-added'], f['last-generated-id'], '0-0'}
      if f['length'] > 0 then r[4] = f['recorded-first-entry-id'] end
      if count > 0 then
        for _, e in ipairs(redis.call('XRANGE', k, '(' .. from, '+', 'COUNT', count)) do add(r, e) end
      end
    end
  end
  out[i] = r
end
return out
`)
