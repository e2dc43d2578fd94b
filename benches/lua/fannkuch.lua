-- fannkuch: the Benchmarks Game fannkuch-redux (sequential version), with
-- 0-based arrays like the tj version.
-- Prints the checksum and the maximum number of flips.
local function fannkuch(n)
  local perm, perm1, count = {}, {}, {}
  for i = 0, n - 1 do
    perm[i] = 0
    perm1[i] = i
    count[i] = 0
  end
  local max_flips = 0
  local checksum = 0
  local perm_count = 0
  local r = n
  while true do
    while r ~= 1 do
      count[r - 1] = r
      r = r - 1
    end
    for i = 0, n - 1 do
      perm[i] = perm1[i]
    end
    local flips = 0
    local k = perm[0]
    while k ~= 0 do
      local i = 0
      local j = k
      while i < j do
        local t = perm[i]
        perm[i] = perm[j]
        perm[j] = t
        i = i + 1
        j = j - 1
      end
      flips = flips + 1
      k = perm[0]
    end
    if flips > max_flips then
      max_flips = flips
    end
    if perm_count % 2 == 0 then
      checksum = checksum + flips
    else
      checksum = checksum - flips
    end
    -- Next permutation in the counting order.
    while true do
      if r == n then
        print(checksum)
        print(max_flips)
        return
      end
      local perm0 = perm1[0]
      for i = 0, r - 1 do
        perm1[i] = perm1[i + 1]
      end
      perm1[r] = perm0
      count[r] = count[r] - 1
      if count[r] > 0 then
        break
      end
      r = r + 1
    end
    perm_count = perm_count + 1
  end
end

local n = 10
if arg[1] then
  n = math.tointeger(tonumber(arg[1]))
end
fannkuch(n)
