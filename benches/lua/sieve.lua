-- sieve: the sieve of Eratosthenes over 0..=n, repeated REPS times on one
-- array of integer flags (0-based like the tj version).
local REPS = 20

local function sieve(flags, len)
  local n = len - 1
  for i = 0, len - 1 do
    flags[i] = 1
  end
  flags[0] = 0
  flags[1] = 0
  local count = 0
  for i = 2, len - 1 do
    if flags[i] == 1 then
      count = count + 1
      local j = i * i
      while j <= n do
        flags[j] = 0
        j = j + i
      end
    end
  end
  return count
end

local n = 1000000
if arg[1] then
  n = math.tointeger(tonumber(arg[1]))
end
local flags = {}
for i = 0, n do
  flags[i] = 0
end
local count = 0
local total = 0
for _ = 1, REPS do
  count = sieve(flags, n + 1)
  total = total + count
end
print(count)
print(total)
