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
// (bucket head + record tail), the number of buckets, the index's bucket. It returns the
// number of primary keys on the page, the keys (newest first), then the stored records of
// those that live in the index's bucket, in the same order ("" for one that is missing); the
// caller knows which those are (keyspace.bucket) and reads the others itself. The records
// come from one MGET (256 keys at a time) and the bucket of a shard tag is hashed once per
// call: a redis.call and a hash per record cost the server far more than the reads.
var scriptPage = redis.NewScript(luaBucket + `
local keys = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[1], '-', 'LIMIT', 0, tonumber(ARGV[2]))
local n, b, head = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[3]
local find, sub = string.find, string.sub
local memo, mine, m = {}, {}, 0
for _, k in ipairs(keys) do
  local first = k
  local slash = find(k, '/', 1, true)
  if slash then first = sub(k, 1, slash - 1) end
  local tag = sub(first, -4)
  local kb = memo[tag]
  if not kb then
    kb = bucket(first, n)
    memo[tag] = kb
  end
  if kb == b then
    m = m + 1
    mine[m] = head .. k
  end
end
local out = {tostring(#keys)}
for _, k in ipairs(keys) do out[#out + 1] = k end
for i = 1, m, 256 do
  local vals = redis.call('MGET', unpack(mine, i, math.min(i + 255, m)))
  for j = 1, #vals do out[#out + 1] = vals[j] or '' end
end
return out
`)

// scriptRecordUse keeps the latest last use per existing credential. KEYS: the bucket's
// last-used hash. ARGV: the head of the bucket's credential record keys, then pairs of
// credential ID and use (formatUse: a fixed-width UTC time of 30 characters, then maybe a
// space and an address); uses compare by their times.
var scriptRecordUse = redis.NewScript(`
for i = 2, #ARGV, 2 do
  local id, use = ARGV[i], ARGV[i + 1]
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then
    local old = redis.call('HGET', KEYS[1], id)
    if not old or string.sub(old, 1, 30) < string.sub(use, 1, 30) then redis.call('HSET', KEYS[1], id, use) end
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

// scriptFeed reads feed streams. KEYS: the streams, then their tag keys (feedTag). ARGV: the
// most entries to read per stream (0: none), the most bytes of entries' changes to read in
// all (once at least one entry is read), then for each stream the position's ID to read
// after and the tag of the commit at that ID ("" when the position is at no entry). For each
// stream it returns seven fields, then up to that many entries after the position as triples
// of ID, the entry's "c" field (its changes) and its "t" field (its commit's tag). The fields
// are the stream's length, entries-added, last-generated-id, oldest entry's ID ("0-0" when
// empty), the tag of its last entry (of the last commit written to it, from its tag key,
// when it is empty), 1 when the stream holds an entry at the position's ID with another tag
// (a stream recreated or rewound and written again in the same millisecond: the position's
// entry is gone), else 0, and 1 when the byte bound stopped the read before the entry count
// did, else 0; a missing stream reads as one never written to. When entries are asked for
// and the stream still holds the position's own entry, with the same tag, nothing after it
// can have been trimmed (streams are trimmed oldest first), and the script skips XINFO: the
// first six fields are then -1, 0, "0-0", "0-0", "", 0. The tag is what tells the cursor's
// entry from another that a stream restored from an older copy gave the same ID. Entries
// are read a few at a time (XRANGE COUNT feedChunk), so that a call's work is bounded by
// the byte bound, however large the entries. XINFO STREAM's entries-added needs Redis 7.
var scriptFeed = redis.NewScript(`
local count, budget = tonumber(ARGV[1]), tonumber(ARGV[2])
local chunk = 8
local used, got = 0, 0
local function tagOf(fields)
  for j = 1, #fields, 2 do
    if fields[j] == 't' then return fields[j + 1] end
  end
  return ''
end
local function add(r, e)
  local c = ''
  for j = 1, #e[2], 2 do
    if e[2][j] == 'c' then c = e[2][j + 1] end
  end
  r[#r + 1] = e[1]
  r[#r + 1] = c
  r[#r + 1] = tagOf(e[2])
  used = used + #c
  got = got + 1
end
-- entries adds to r up to count entries of stream k after id from (exclusive), a chunk at a
-- time, until the byte bound is spent; it sets r[7] to 1 when the bound stopped it.
local function entries(r, k, from)
  local n = 0
  while n < count do
    if got > 0 and used >= budget then
      r[7] = 1
      return
    end
    local es = redis.call('XRANGE', k, '(' .. from, '+', 'COUNT', math.min(chunk, count - n))
    for _, e in ipairs(es) do
      if n >= count or (got > 0 and used >= budget) then
        r[7] = 1
        return
      end
      add(r, e)
      n = n + 1
      from = e[1]
    end
    if #es < chunk then return end
  end
end
local out = {}
local n = #KEYS / 2
for i = 1, n do
  local k = KEYS[i]
  local from, tag = ARGV[2 * i + 1], ARGV[2 * i + 2]
  local r = nil
  local at = nil
  if count > 0 and from ~= '0-0' and tag ~= '' then
    at = redis.call('XRANGE', k, from, from)
    if #at > 0 and tagOf(at[1][2]) == tag then
      r = {-1, 0, '0-0', '0-0', '', 0, 0}
      entries(r, k, from)
    end
  end
  if not r then
    r = {0, 0, '0-0', '0-0', '', 0, 0}
    if redis.call('EXISTS', k) == 1 then
      local info = redis.call('XINFO', 'STREAM', k)
      local f = {}
      for j = 1, #info, 2 do f[info[j]] = info[j + 1] end
      if not f['entries-added'] then
        return redis.error_reply('ERR the iamkit change feed needs Redis 7 or later (XINFO STREAM entries-added)')
      end
      r = {f['length'], f['entries-added'], f['last-generated-id'], '0-0', '', 0, 0}
      if f['length'] > 0 then
        r[4] = f['recorded-first-entry-id']
        r[5] = tagOf(f['last-entry'][2])
      else
        r[5] = redis.call('GET', KEYS[n + i]) or ''
      end
      if at and #at > 0 then r[6] = 1 end
      if count > 0 then entries(r, k, from) end
    end
  end
  out[i] = r
end
return out
`)
