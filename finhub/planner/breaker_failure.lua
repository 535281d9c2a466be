-- Count a failure of a provider; open its breaker at the threshold, or again from half-open.
-- Returns 1 if this opened a closed breaker, 2 if it re-opened it after a failed probe, else 0
-- (a failure counted while it is already open extends the cool-down, and is no news).
-- KEYS: hash, probe; ARGV: now, threshold, cooldown, error
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
redis.call('HSET', KEYS[1], 'last_error', ARGV[4])
if state ~= 'closed' or failures >= tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[1], 'state', 'open', 'until', tonumber(ARGV[1]) + tonumber(ARGV[3]))
    redis.call('DEL', KEYS[2])
    if state == 'closed' then return 1 end
    if state == 'half_open' then return 2 end
end
return 0
