"""Which provider may be asked now: quotas reserved in Redis, circuit breakers, the fallback walk,
and the capacity plan of a schedule."""
