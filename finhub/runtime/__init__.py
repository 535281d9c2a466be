"""What runs the jobs: the context, Redis, the Dramatiq broker, the worker pool, the scheduler lease
and driver, and the health data `status` reads."""
