"""Lua scripts of the Redis routing store: each mutator runs as one atomic script.

Every script gets one key, ``<prefix>:routing:``, and names these under it (one short
argument instead of ten on every call: packing them was most of a call's cost)::

    agents     hash  agent id -> {state, reason, skills, capacity, load, idle_since, wraps}
    waiting    hash  interaction id -> item (see router.codec)
    offers     hash  interaction id -> {agent, channel, item, offered_at, expires_at, reason}
    offer_due  zset  interaction id scored by expires_at
    active     hash  interaction id -> {agent, channel}: accepted work until release
    wrap_due   zset  [agent, interaction, channel] scored by the end of its wrap-up
    last       hash  customer id -> {agent, at}
    last_at    zset  customer id scored by at (to forget old entries)
    log        stream  every change to waiting, agents and last, with the new record: entry
                       ``<seq>-0`` holds k (w: item put, x: item gone, a: agent put, l: last
                       served put, m: last served gone), i (the id) and v (the new JSON); capped
                       near LOG_MAX entries. Each node's engine replays it into its index.
    log_seq    string  the seq of the newest log entry

Arguments come as one MessagePack array (``router.codec.args``) that the prelude unpacks into
``ARGV``, so the scripts read ``ARGV[n]`` as if each had been passed on its own; a payload it
cannot unpack is refused as ``routing-arguments-unreadable``, a stored record that is not JSON
as ``routing-record-unreadable`` (both raised as ``router.errors.RoutingDataError``). The
records' shapes and the change log are unchanged by this, so nodes of the previous version,
which pass their arguments one by one to their own scripts, can share the same Redis.

Timestamps are strings copied from the arguments, never numbers computed here (see codec).
``refusal`` mirrors ``router.eligibility.refusal``; the contract suite checks they agree.
Replies are arrays whose first element is a status: "ok" or a stable error id.
"""

from __future__ import annotations

KEY_NAMES = ("agents", "waiting", "offers", "offer_due", "active", "wrap_due", "last", "last_at", "log",
             "log_seq")

# A node more than about this many changes behind reads the whole state again.
LOG_MAX = 20000

PRELUDE = r"""
-- The arguments come as one MessagePack array (router.codec.args).
local unpacked, A = pcall(cmsgpack.unpack, ARGV[1])
if not unpacked or type(A) ~= 'table' then
  return redis.error_reply('routing-arguments-unreadable')
end
local ARGV = A

local P = KEYS[1]
local AGENTS, WAITING, OFFERS, OFFER_DUE = P .. 'agents', P .. 'waiting', P .. 'offers', P .. 'offer_due'
local ACTIVE, WRAP_DUE, LAST, LAST_AT = P .. 'active', P .. 'wrap_due', P .. 'last', P .. 'last_at'
local LOG, LOG_SEQ = P .. 'log', P .. 'log_seq'

local function log(kind, id, raw)
  local seq = redis.call('INCR', LOG_SEQ)
  redis.call('XADD', LOG, 'MAXLEN', '~', '""" + str(LOG_MAX) + r"""', seq .. '-0',
             'k', kind, 'i', id, 'v', raw)
end

local function put_waiting(id, raw)
  redis.call('HSET', WAITING, id, raw)
  log('w', id, raw)
end

local function del_waiting(id)
  redis.call('HDEL', WAITING, id)
  log('x', id, '')
end

-- A record that is not JSON (garbled, forged) fails the call with a stable id, not a Lua trace.
local function decode(raw)
  local ok, value = pcall(cjson.decode, raw)
  if not ok or type(value) ~= 'table' then error({err = 'routing-record-unreadable'}) end
  return value
end

local function get_agent(id)
  local raw = redis.call('HGET', AGENTS, id)
  if not raw then return nil end
  return decode(raw)
end

local function put_agent(id, a)
  local raw = cjson.encode(a)
  redis.call('HSET', AGENTS, id, raw)
  log('a', id, raw)
  return raw
end

local function total(a)
  local n = 0
  for _, v in pairs(a.load) do n = n + v end
  return n
end

local function free_slot(a, ch)
  local n = (a.load[ch] or 0) - 1
  if n < 0 then n = 0 end
  a.load[ch] = n
end

local function skill_gap(a, required)
  local names = {}
  for k in pairs(required) do table.insert(names, k) end
  table.sort(names)
  for _, k in ipairs(names) do
    local have = a.skills[k]
    if have == nil then return 'missing-skill:' .. k end
    if have < required[k] then return 'skill-too-low:' .. k end
  end
  return nil
end

local function refusal(agent_id, a, item)
  if item.target_agent ~= cjson.null and item.target_agent ~= agent_id then return 'not-target-agent' end
  for _, x in ipairs(item.excluded) do
    if x == agent_id then return 'excluded' end
  end
  if a.state ~= 'available' then return 'not-available:' .. a.state end
  local gap = skill_gap(a, item.skills)
  if gap ~= nil and type(item.also) == 'table' then
    -- Overflowed work: a skill set of a queue it is also offered to qualifies as well.
    local queues = {}
    for q in pairs(item.also) do table.insert(queues, q) end
    table.sort(queues)
    for _, q in ipairs(queues) do
      if skill_gap(a, item.also[q]) == nil then gap = nil break end
    end
  end
  if gap ~= nil then return gap end
  local ch = item.channel
  if (a.load[ch] or 0) >= (a.capacity[ch] or 0) then return 'no-capacity:' .. ch end
  if ch == 'voice' then
    if total(a) > 0 then return 'voice-exclusive' end
  elseif (a.load['voice'] or 0) > 0 then
    return 'voice-exclusive'
  end
  return nil
end

local function withdraw(id, rec)
  redis.call('HDEL', OFFERS, id)
  redis.call('ZREM', OFFER_DUE, id)
  local a = get_agent(rec.agent)
  if a then
    free_slot(a, rec.channel)
    put_agent(rec.agent, a)
  end
end

-- Back to the queue with the original wait and the agent who let it go excluded.
local function requeue(id, rec)
  withdraw(id, rec)
  local item = decode(rec.item)
  local excluded, seen = {}, false
  for _, x in ipairs(item.excluded) do
    table.insert(excluded, x)
    if x == rec.agent then seen = true end
  end
  if not seen then table.insert(excluded, rec.agent) end
  item.excluded = excluded
  -- A transfer to one agent who lets it go falls back to the whole queue.
  if item.target_agent == rec.agent then item.target_agent = cjson.null end
  local raw = cjson.encode(item)
  put_waiting(id, raw)
  return raw
end

local function owned_offer(id, agent_id)
  local raw = redis.call('HGET', OFFERS, id)
  if not raw then return nil, 'offer-not-found' end
  local rec = decode(raw)
  if rec.agent ~= agent_id then return nil, 'offer-not-yours' end
  return rec, raw
end
"""

# ARGV: agent id, skills json, capacity json, now
REGISTER = PRELUDE + r"""
local a = get_agent(ARGV[1])
if not a then
  a = {state = 'offline', reason = cjson.null, load = {}, idle_since = ARGV[4], wraps = 0}
end
a.skills = decode(ARGV[2])
a.capacity = decode(ARGV[3])
put_agent(ARGV[1], a)
return {'ok'}
"""

# ARGV: agent id, state, has reason ("1"/"0"), reason, now
SET_STATE = PRELUDE + r"""
local a = get_agent(ARGV[1])
if not a then return {'agent-not-found'} end
if ARGV[2] == 'available' and a.state ~= 'available' and total(a) == 0 then a.idle_since = ARGV[5] end
a.state = ARGV[2]
if ARGV[3] == '1' then a.reason = ARGV[4] else a.reason = cjson.null end
return {'ok', put_agent(ARGV[1], a)}
"""

# ARGV: interaction id, item json
ENQUEUE = PRELUDE + r"""
local offered = redis.call('HGET', OFFERS, ARGV[1])
if offered then return {'interaction-offered', decode(offered).agent} end
local freed = ''
local held = redis.call('HGET', ACTIVE, ARGV[1])
if held then
  local h = decode(held)
  redis.call('HDEL', ACTIVE, ARGV[1])
  local a = get_agent(h.agent)
  if a then
    free_slot(a, h.channel)
    put_agent(h.agent, a)
  end
  freed = h.agent
end
put_waiting(ARGV[1], ARGV[2])
return {'ok', freed}
"""

# ARGV: interaction id
REMOVE = PRELUDE + r"""
local raw = redis.call('HGET', WAITING, ARGV[1])
if raw then
  del_waiting(ARGV[1])
  return {'waiting', raw}
end
local offered = redis.call('HGET', OFFERS, ARGV[1])
if not offered then return {'none'} end
local rec = decode(offered)
withdraw(ARGV[1], rec)
return {'offered', rec.item}
"""

# ARGV: interaction id, agent id, offered_at, expires_at, reason json. Reply: {'ok', channel}
TRY_OFFER = PRELUDE + r"""
local raw = redis.call('HGET', WAITING, ARGV[1])
if not raw then return {'not-waiting'} end
local a = get_agent(ARGV[2])
if not a then return {'agent-not-found'} end
local item = decode(raw)
local why = refusal(ARGV[2], a, item)
if why then return {why} end
a.load[item.channel] = (a.load[item.channel] or 0) + 1
put_agent(ARGV[2], a)
del_waiting(ARGV[1])
local rec = cjson.encode({agent = ARGV[2], channel = item.channel, item = raw,
                          offered_at = ARGV[3], expires_at = ARGV[4], reason = ARGV[5]})
redis.call('HSET', OFFERS, ARGV[1], rec)
redis.call('ZADD', OFFER_DUE, ARGV[4], ARGV[1])
return {'ok', item.channel}
"""

# ARGV: interaction id, agent id
ACCEPT = PRELUDE + r"""
local rec, raw = owned_offer(ARGV[1], ARGV[2])
if not rec then return {raw} end
redis.call('HDEL', OFFERS, ARGV[1])
redis.call('ZREM', OFFER_DUE, ARGV[1])
redis.call('HSET', ACTIVE, ARGV[1], cjson.encode({agent = ARGV[2], channel = rec.channel}))
return {'ok', raw}
"""

# ARGV: interaction id, agent id, channel
HOLD = PRELUDE + r"""
local held = redis.call('HGET', ACTIVE, ARGV[1])
if held then
  if decode(held).agent ~= ARGV[2] then return {'work-not-yours'} end
  return {'ok', 0}
end
if redis.call('HEXISTS', OFFERS, ARGV[1]) == 1 or redis.call('HEXISTS', WAITING, ARGV[1]) == 1 then
  return {'interaction-routing'}
end
local a = get_agent(ARGV[2])
if not a then return {'agent-not-found'} end
a.load[ARGV[3]] = (a.load[ARGV[3]] or 0) + 1
put_agent(ARGV[2], a)
redis.call('HSET', ACTIVE, ARGV[1], cjson.encode({agent = ARGV[2], channel = ARGV[3]}))
return {'ok', 1}
"""

# ARGV: interaction id, agent id
REJECT = PRELUDE + r"""
local rec, raw = owned_offer(ARGV[1], ARGV[2])
if not rec then return {raw} end
return {'ok', requeue(ARGV[1], rec)}
"""

# ARGV: now, batch size. Reply: {ids looked at, requeued items}
EXPIRE = PRELUDE + r"""
local ids = redis.call('ZRANGEBYSCORE', OFFER_DUE, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local raw = redis.call('HGET', OFFERS, id)
  if raw then
    table.insert(out, requeue(id, decode(raw)))
  else
    redis.call('ZREM', OFFER_DUE, id)
  end
end
return {#ids, out}
"""

# ARGV: interaction id, agent id, now, has customer ("1"/"0"), customer id, wrap_up, wrap-up end,
#       forget last-served entries older than this, prune batch
RELEASE = PRELUDE + r"""
local id, agent_id, now = ARGV[1], ARGV[2], ARGV[3]
local ch = nil
local held = redis.call('HGET', ACTIVE, id)
if held then
  local h = decode(held)
  if h.agent ~= agent_id then return {'work-not-yours'} end
  redis.call('HDEL', ACTIVE, id)
  ch = h.channel
else
  local offered = redis.call('HGET', OFFERS, id)
  if offered then
    local rec = decode(offered)
    if rec.agent ~= agent_id then return {'work-not-yours'} end
    redis.call('HDEL', OFFERS, id)
    redis.call('ZREM', OFFER_DUE, id)
    ch = rec.channel
  end
end
if ARGV[4] == '1' then
  local served = cjson.encode({agent = agent_id, at = now})
  redis.call('HSET', LAST, ARGV[5], served)
  log('l', ARGV[5], served)
  redis.call('ZADD', LAST_AT, now, ARGV[5])
  local old = redis.call('ZRANGEBYSCORE', LAST_AT, '-inf', '(' .. ARGV[8], 'LIMIT', 0, tonumber(ARGV[9]))
  for _, c in ipairs(old) do
    redis.call('HDEL', LAST, c)
    redis.call('ZREM', LAST_AT, c)
    log('m', c, '')
  end
end
if not ch then return {'not-held'} end
local a = get_agent(agent_id)
if not a then return {'not-held'} end
if tonumber(ARGV[6]) > 0 then
  a.wraps = a.wraps + 1
  redis.call('ZADD', WRAP_DUE, ARGV[7], cjson.encode({agent_id, id, ch}))
  if a.state == 'available' and total(a) == a.wraps then
    a.state = 'wrap_up'
    a.reason = cjson.null
  end
else
  free_slot(a, ch)
  if total(a) == 0 then a.idle_since = now end
end
put_agent(agent_id, a)
return {'ok'}
"""

# ARGV: now, batch size. Reply: {wrap slots freed, agents whose wrap-up ended}
TICK = PRELUDE + r"""
local due = redis.call('ZRANGEBYSCORE', WRAP_DUE, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due == 0 then return {0, {}} end
local touched, order = {}, {}
for _, member in ipairs(due) do
  redis.call('ZREM', WRAP_DUE, member)
  local w = decode(member)
  local a = touched[w[1]]
  if not a then
    a = get_agent(w[1])
    if a then
      touched[w[1]] = a
      table.insert(order, w[1])
    end
  end
  if a then
    a.wraps = a.wraps - 1
    free_slot(a, w[3])
  end
end
local ended = {}
for _, agent_id in ipairs(order) do
  local a = touched[agent_id]
  if a.wraps <= 0 and a.state == 'wrap_up' then
    a.state = 'available'
    a.idle_since = ARGV[1]
    table.insert(ended, agent_id)
  elseif total(a) == 0 then
    a.idle_since = ARGV[1]
  end
  put_agent(agent_id, a)
end
return {#due, ended}
"""
