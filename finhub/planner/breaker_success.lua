-- Close a provider's breaker. Returns 1 if it was not closed before.
-- KEYS: hash, probe
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'until', 0)
redis.call('DEL', KEYS[2])
if state ~= 'closed' then return 1 end
return 0
