-- quicksort: sorts n pseudo-random ints (a 64-bit LCG; Lua 5.4 integer
-- arithmetic wraps like tj's) with a recursive Hoare-partition quicksort.
-- Prints the number of out-of-order neighbours (0) and a wrapping hash.
-- Arrays are 0-based like the tj version.
local function quicksort(a, lo, hi)
  if lo >= hi then
    return
  end
  local p = a[(lo + hi) // 2]
  local i = lo
  local j = hi
  while i <= j do
    while a[i] < p do
      i = i + 1
    end
    while a[j] > p do
      j = j - 1
    end
    if i <= j then
      local t = a[i]
      a[i] = a[j]
      a[j] = t
      i = i + 1
      j = j - 1
    end
  end
  quicksort(a, lo, j)
  quicksort(a, i, hi)
end

local n = 1000000
if arg[1] then
  n = math.tointeger(tonumber(arg[1]))
end
local a = {}
local seed = 42
for i = 0, n - 1 do
  seed = seed * 6364136223846793005 + 1442695040888963407
  -- Lua's >> is logical, tj's arithmetic: the mask makes them agree.
  a[i] = (seed >> 33) & 0x7FFFFFFF
end
quicksort(a, 0, n - 1)
local bad = 0
local hash = 0
for i = 0, n - 1 do
  if i + 1 < n and a[i] > a[i + 1] then
    bad = bad + 1
  end
  hash = hash * 31 + a[i]
end
print(bad)
print(hash)
