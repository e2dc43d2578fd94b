-- spectralnorm: the Benchmarks Game spectral norm of the infinite matrix
-- A(i, j) = 1 / ((i + j)(i + j + 1) / 2 + i + 1), by 10 power iterations.
-- Prints int(result * 1e9). Arrays are 0-based like the tj version.
local sqrt = math.sqrt

-- tj's int(x): truncate toward zero, saturate, NaN -> 0.
local function to_int(x)
  if x ~= x then
    return 0
  end
  if x >= 9223372036854775808.0 then
    return math.maxinteger
  end
  if x <= -9223372036854775808.0 then
    return math.mininteger
  end
  if x >= 0 then
    return math.floor(x)
  end
  return math.ceil(x)
end

local function eval_a(i, j)
  return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)
end

-- av = A v
local function mul_av(v, av, n)
  for i = 0, n - 1 do
    local sum = 0.0
    for j = 0, n - 1 do
      sum = sum + eval_a(i, j) * v[j]
    end
    av[i] = sum
  end
end

-- atv = A^T v
local function mul_atv(v, atv, n)
  for i = 0, n - 1 do
    local sum = 0.0
    for j = 0, n - 1 do
      sum = sum + eval_a(j, i) * v[j]
    end
    atv[i] = sum
  end
end

-- out = A^T A v
local function mul_atav(v, out, tmp, n)
  mul_av(v, tmp, n)
  mul_atv(tmp, out, n)
end

local n = 1000
if arg[1] then
  n = math.tointeger(tonumber(arg[1]))
end
local u, v, tmp = {}, {}, {}
for i = 0, n - 1 do
  u[i] = 1.0
  v[i] = 0.0
  tmp[i] = 0.0
end
for _ = 1, 10 do
  mul_atav(u, v, tmp, n)
  mul_atav(v, u, tmp, n)
end
local vbv = 0.0
local vv = 0.0
for i = 0, n - 1 do
  vbv = vbv + u[i] * v[i]
  vv = vv + v[i] * v[i]
end
print(to_int(sqrt(vbv / vv) * 1e9))
