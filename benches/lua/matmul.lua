-- matmul: n x n float matrices in flat row-major 0-based arrays,
-- c = a * b with the i-k-j loop order.
-- Prints int(c[n/2][n/2] * 1e9) and int(sum(c) * 1e6).

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

local function fill(a, b, n)
  local tmp = 1.0 / n / n
  for i = 0, n - 1 do
    for j = 0, n - 1 do
      a[i * n + j] = tmp * (i - j + 0.0) * (i + j + 0.0)
      b[i * n + j] = tmp * (i * 2 - j + 0.0) * (i + j + 1 + 0.0)
    end
  end
end

local function matmul(a, b, c, n)
  for i = 0, n - 1 do
    for k = 0, n - 1 do
      local aik = a[i * n + k]
      for j = 0, n - 1 do
        c[i * n + j] = c[i * n + j] + aik * b[k * n + j]
      end
    end
  end
end

local n = 500
if arg[1] then
  n = math.tointeger(tonumber(arg[1]))
end
local a, b, c = {}, {}, {}
for i = 0, n * n - 1 do
  a[i] = 0.0
  b[i] = 0.0
  c[i] = 0.0
end
fill(a, b, n)
matmul(a, b, c, n)
local sum = 0.0
for i = 0, n * n - 1 do
  sum = sum + c[i]
end
print(to_int(c[(n // 2) * n + n // 2] * 1e9))
print(to_int(sum * 1e6))
