#include "redis_scripts.h"

/*
 * Lua strings are bytes, so names and message text pass through unchanged.
 * Times come from Redis's TIME where nodes must agree (presence), from the
 * caller elsewhere, as with SQLite.
 */

const char redis_script_user_create[] =
    "local key = 'echod:user:' .. ARGV[1]\n"
    "if redis.call('EXISTS', key) == 1 then return 2 end\n"
    "redis.call('HSET', key, 'name', ARGV[2], 'hash', ARGV[3], 'created', ARGV[4])\n"
    "redis.call('SADD', 'echod:users', ARGV[1])\n"
    "return 0\n";

const char redis_script_user_set_hash[] = "local key = 'echod:user:' .. ARGV[1]\n"
                                          "if redis.call('EXISTS', key) == 0 then return 1 end\n"
                                          "redis.call('HSET', key, 'hash', ARGV[2])\n"
                                          "return 0\n";

const char redis_script_user_remove[] =
    "local lower = ARGV[1]\n"
    "if redis.call('DEL', 'echod:user:' .. lower) == 0 then return 1 end\n"
    "redis.call('SREM', 'echod:users', lower)\n"
    "for _, address in ipairs(redis.call('SMEMBERS', 'echod:identities:' .. lower)) do\n"
    "  local key = 'echod:identity:' .. address\n"
    "  if redis.call('GET', key) == lower then\n"
    "    redis.call('DEL', key)\n"
    "    redis.call('SREM', 'echod:addresses', address)\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', 'echod:identities:' .. lower)\n"
    "for _, token in ipairs(redis.call('SMEMBERS', 'echod:sessions:' .. lower)) do\n"
    "  redis.call('DEL', 'echod:session:' .. token)\n"
    "end\n"
    "redis.call('DEL', 'echod:sessions:' .. lower)\n"
    "return 0\n";

const char redis_script_user_list[] =
    "local names = redis.call('SMEMBERS', 'echod:users')\n"
    "table.sort(names)\n"
    "local out = {}\n"
    "for _, lower in ipairs(names) do\n"
    "  local user = redis.call('HMGET', 'echod:user:' .. lower, 'name', 'created')\n"
    "  if user[1] then\n"
    "    out[#out + 1] = user[1]\n"
    "    out[#out + 1] = user[2] or '0'\n"
    "  end\n"
    "end\n"
    "return out\n";

const char redis_script_identity_get[] =
    "local lower = redis.call('GET', 'echod:identity:' .. ARGV[1])\n"
    "if not lower then return false end\n"
    "return redis.call('HGET', 'echod:user:' .. lower, 'name')\n";

const char redis_script_identity_set[] =
    "local address, lower = ARGV[1], ARGV[2]\n"
    "if redis.call('EXISTS', 'echod:user:' .. lower) == 0 then return 1 end\n"
    "local key = 'echod:identity:' .. address\n"
    "local old = redis.call('GET', key)\n"
    "if old and old ~= lower then\n"
    "  redis.call('SREM', 'echod:identities:' .. old, address)\n"
    "end\n"
    "redis.call('SET', key, lower)\n"
    "redis.call('SADD', 'echod:identities:' .. lower, address)\n"
    "redis.call('SADD', 'echod:addresses', address)\n"
    "return 0\n";

const char redis_script_identity_forget_all[] =
    "local count = 0\n"
    "for _, address in ipairs(redis.call('SMEMBERS', 'echod:addresses')) do\n"
    "  local key = 'echod:identity:' .. address\n"
    "  local lower = redis.call('GET', key)\n"
    "  if lower then\n"
    "    redis.call('SREM', 'echod:identities:' .. lower, address)\n"
    "  end\n"
    "  count = count + redis.call('DEL', key)\n"
    "end\n"
    "redis.call('DEL', 'echod:addresses')\n"
    "return count\n";

/*
 * The per-user set of sessions drops the ones Redis has expired on the way.
 * ARGV[4] is the absolute expiry kept in the hash; ARGV[5], a grace period
 * later, is when Redis deletes the key.
 */
const char redis_script_session_create[] =
    "local token, lower = ARGV[1], ARGV[2]\n"
    "local name = redis.call('HGET', 'echod:user:' .. lower, 'name')\n"
    "if not name then return 1 end\n"
    "local key = 'echod:session:' .. token\n"
    "if redis.call('EXISTS', key) == 1 then return 2 end\n"
    "local sessions = 'echod:sessions:' .. lower\n"
    "for _, old in ipairs(redis.call('SMEMBERS', sessions)) do\n"
    "  if redis.call('EXISTS', 'echod:session:' .. old) == 0 then\n"
    "    redis.call('SREM', sessions, old)\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', key, 'token', token, 'name', name, 'user', lower,\n"
    "           'created', ARGV[3], 'expires', ARGV[4], 'last_used', ARGV[3])\n"
    "redis.call('PEXPIREAT', key, ARGV[5])\n"
    "redis.call('SADD', sessions, token)\n"
    "return 0\n";

const char redis_script_session_touch[] = "local key = 'echod:session:' .. ARGV[1]\n"
                                          "local last = redis.call('HGET', key, 'last_used')\n"
                                          "if not last then return 1 end\n"
                                          "if tonumber(ARGV[2]) > tonumber(last) then\n"
                                          "  redis.call('HSET', key, 'last_used', ARGV[2])\n"
                                          "end\n"
                                          "return 0\n";

const char redis_script_session_revoke[] =
    "local key = 'echod:session:' .. ARGV[1]\n"
    "local lower = redis.call('HGET', key, 'user')\n"
    "if not lower then return 1 end\n"
    "redis.call('DEL', key)\n"
    "redis.call('SREM', 'echod:sessions:' .. lower, ARGV[1])\n"
    "return 0\n";

const char redis_script_session_revoke_user[] =
    "local count = 0\n"
    "for _, token in ipairs(redis.call('SMEMBERS', 'echod:sessions:' .. ARGV[1])) do\n"
    "  count = count + redis.call('DEL', 'echod:session:' .. token)\n"
    "end\n"
    "redis.call('DEL', 'echod:sessions:' .. ARGV[1])\n"
    "return count\n";

/*
 * A post that runs past its deadline (Redis's TIME, as effects replication
 * allows before writes) does nothing: its sender was told it was not sent.
 */
const char redis_script_post[] =
    "local t = redis.call('TIME')\n"
    "if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[8]) then\n"
    "  return redis.error_reply('LATE past its deadline: not stored')\n"
    "end\n"
    "local id = redis.call('XADD', 'echod:history', 'MAXLEN', '~', ARGV[1], '*',\n"
    "                      't', ARGV[2], 'n', ARGV[3], 'x', ARGV[4], 'o', ARGV[6], 's', ARGV[7])\n"
    "redis.call('PUBLISH', ARGV[5], 'M ' .. id .. ' ' .. ARGV[2] .. ' ' .. ARGV[6] .. ' ' ..\n"
    "           ARGV[7] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])\n"
    "return id\n";

/*
 * Shared by the presence scripts. A node is live while its score in
 * echod:nodes (a deadline in Redis's milliseconds) is in the future; its
 * names (lowercased to spelling) stay in echod:presence:NODE for three
 * deadlines, so that whoever prunes a dead node can still say LEAVE for
 * them.
 */
#define PRESENCE_FUNCTIONS                                                                         \
        "local prefix = 'echod:presence:'\n"                                                       \
        "local function now_ms()\n"                                                                \
        "  local t = redis.call('TIME')\n"                                                         \
        "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                     \
        "end\n"                                                                                    \
        "local function live_nodes(now)\n"                                                         \
        "  return redis.call('ZRANGEBYSCORE', 'echod:nodes', '(' .. now, '+inf')\n"                \
        "end\n"                                                                                    \
        "local function online_elsewhere(lower, me, nodes)\n"                                      \
        "  for _, node in ipairs(nodes) do\n"                                                      \
        "    if node ~= me and redis.call('HEXISTS', prefix .. node, lower) == 1 then\n"           \
        "      return true\n"                                                                      \
        "    end\n"                                                                                \
        "  end\n"                                                                                  \
        "  return false\n"                                                                         \
        "end\n"                                                                                    \
        "local function announce(channel, kind, name, now, node, sender)\n"                        \
        "  redis.call('PUBLISH', channel, string.format('%s 0 %d %s %s %s ', kind, now, node,\n"   \
        "             sender, name))\n"                                                            \
        "end\n"                                                                                    \
        "local function prune(channel, now)\n"                                                     \
        "  local dead = redis.call('ZRANGEBYSCORE', 'echod:nodes', '-inf', now)\n"                 \
        "  if #dead == 0 then return end\n"                                                        \
        "  redis.call('ZREMRANGEBYSCORE', 'echod:nodes', '-inf', now)\n"                           \
        "  local nodes, left = live_nodes(now), {}\n"                                              \
        "  for _, node in ipairs(dead) do\n"                                                       \
        "    local entries = redis.call('HGETALL', prefix .. node)\n"                              \
        "    redis.call('DEL', prefix .. node)\n"                                                  \
        "    for i = 1, #entries, 2 do\n"                                                          \
        "      local lower = entries[i]\n"                                                         \
        "      if not left[lower] and not online_elsewhere(lower, '', nodes) then\n"               \
        "        left[lower] = true\n"                                                             \
        "        announce(channel, 'L', entries[i + 1], now, '-', '0')\n"                          \
        "      end\n"                                                                              \
        "    end\n"                                                                                \
        "  end\n"                                                                                  \
        "end\n"

const char redis_script_presence_set[] = PRESENCE_FUNCTIONS
    "local me, lower, name, ttl, channel = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5]), ARGV[6]\n"
    "local now = now_ms()\n"
    "local key = prefix .. me\n"
    "redis.call('ZADD', 'echod:nodes', now + ttl, me)\n"
    "prune(channel, now)\n"
    "local nodes = live_nodes(now)\n"
    "if ARGV[4] == '1' then\n"
    "  local added = redis.call('HSET', key, lower, name)\n"
    "  redis.call('PEXPIRE', key, ttl * 3)\n"
    "  if added == 1 and not online_elsewhere(lower, me, nodes) then\n"
    "    announce(channel, 'J', name, now, me, ARGV[7])\n"
    "  end\n"
    "elseif redis.call('HDEL', key, lower) == 1 and not online_elsewhere(lower, me, nodes) then\n"
    "  announce(channel, 'L', name, now, me, ARGV[7])\n"
    "end\n"
    "return 0\n";

/*
 * ARGV: node, TTL, channel, a new epoch in case Redis has none, the epoch
 * this node last saw ('' if none), then (lower, name, known) per name,
 * known '1' for a name this node had written before. echod:epoch changes
 * only when Redis lost its data: then the names this node had announced
 * before are not new to anyone, and get no JOIN (a node that was pruned
 * while Redis kept its data did get a LEAVE for them, so it joins them
 * again). Returns the epoch.
 */
const char redis_script_presence_refresh[] =
    PRESENCE_FUNCTIONS "local me, ttl, channel = ARGV[1], tonumber(ARGV[2]), ARGV[3]\n"
                       "redis.call('SET', 'echod:epoch', ARGV[4], 'NX')\n"
                       "local epoch = redis.call('GET', 'echod:epoch')\n"
                       "local emptied = ARGV[5] ~= '' and ARGV[5] ~= epoch\n"
                       "local now = now_ms()\n"
                       "local key = prefix .. me\n"
                       "redis.call('ZADD', 'echod:nodes', now + ttl, me)\n"
                       "prune(channel, now)\n"
                       "local nodes = live_nodes(now)\n"
                       "local old, new = {}, {}\n"
                       "local entries = redis.call('HGETALL', key)\n"
                       "for i = 1, #entries, 2 do old[entries[i]] = entries[i + 1] end\n"
                       "redis.call('DEL', key)\n"
                       "for i = 6, #ARGV, 3 do\n"
                       "  local lower, name, known = ARGV[i], ARGV[i + 1], ARGV[i + 2]\n"
                       "  new[lower] = name\n"
                       "  redis.call('HSET', key, lower, name)\n"
                       "  if not old[lower] and not (emptied and known == '1') and\n"
                       "     not online_elsewhere(lower, me, nodes) then\n"
                       "    announce(channel, 'J', name, now, '-', '0')\n"
                       "  end\n"
                       "end\n"
                       "for lower, name in pairs(old) do\n"
                       "  if not new[lower] and not online_elsewhere(lower, me, nodes) then\n"
                       "    announce(channel, 'L', name, now, '-', '0')\n"
                       "  end\n"
                       "end\n"
                       "redis.call('PEXPIRE', key, ttl * 3)\n"
                       "return epoch\n";

const char redis_script_who[] =
    PRESENCE_FUNCTIONS "local now = now_ms()\n"
                       "prune(ARGV[1], now)\n"
                       "local seen, out = {}, {}\n"
                       "for _, node in ipairs(live_nodes(now)) do\n"
                       "  local entries = redis.call('HGETALL', prefix .. node)\n"
                       "  for i = 1, #entries, 2 do\n"
                       "    if not seen[entries[i]] then\n"
                       "      seen[entries[i]] = true\n"
                       "      out[#out + 1] = entries[i + 1]\n"
                       "    end\n"
                       "  end\n"
                       "end\n"
                       "table.sort(out)\n"
                       "return out\n";
