"""The five assignments of the Redis Fundamentals course, one module per lecture topic."""
