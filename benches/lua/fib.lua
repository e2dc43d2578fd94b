-- fib: naive doubly recursive Fibonacci; call overhead dominates.
local function fib(n)
  if n < 2 then
    return n
  end
  return fib(n - 1) + fib(n - 2)
end

local n = 35
if arg[1] then
  n = math.tointeger(tonumber(arg[1]))
end
print(fib(n))
