-- mandelbrot: counts the points of a size x size grid over
-- [-1.5, 0.5] x [-1, 1] that stay bounded for MAX_ITER iterations.
local MAX_ITER = 50

local function mandelbrot(size)
  local count = 0
  local fsize = size + 0.0
  for y = 0, size - 1 do
    local ci = 2.0 * (y + 0.0) / fsize - 1.0
    for x = 0, size - 1 do
      local cr = 2.0 * (x + 0.0) / fsize - 1.5
      local zr = 0.0
      local zi = 0.0
      local inside = 1
      for _ = 1, MAX_ITER do
        local tr = zr * zr - zi * zi + cr
        local ti = 2.0 * zr * zi + ci
        zr = tr
        zi = ti
        if zr * zr + zi * zi > 4.0 then
          inside = 0
          break
        end
      end
      count = count + inside
    end
  end
  return count
end

local size = 1000
if arg[1] then
  size = math.tointeger(tonumber(arg[1]))
end
print(mandelbrot(size))
