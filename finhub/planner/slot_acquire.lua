-- Take one of the ARGV[2] concurrency slots in KEYS[1] (holders scored by expiry) for token ARGV[4]
-- until ARGV[3], after dropping the holders that expired by ARGV[1]. Returns 1 if taken, else 0.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
    return 1
end
return 0
