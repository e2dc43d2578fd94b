"""nbody: the Benchmarks Game n-body simulation of the Jovian planets, one
list per coordinate. Prints the energy before and after, as int(e * 1e9)."""
import sys
from math import sqrt

PI = 3.141592653589793
SOLAR_MASS = 4.0 * PI * PI
DAYS_PER_YEAR = 365.24


def to_int(x):
    """tj's int(x): truncate toward zero, saturate, NaN -> 0."""
    if x != x:
        return 0
    if x >= 9223372036854775808.0:
        return 9223372036854775807
    if x <= -9223372036854775808.0:
        return -9223372036854775808
    return int(x)


def offset_momentum(vx, vy, vz, mass):
    px = 0.0
    py = 0.0
    pz = 0.0
    for i in range(len(mass)):
        px = px + vx[i] * mass[i]
        py = py + vy[i] * mass[i]
        pz = pz + vz[i] * mass[i]
    vx[0] = -px / SOLAR_MASS
    vy[0] = -py / SOLAR_MASS
    vz[0] = -pz / SOLAR_MASS


def energy(x, y, z, vx, vy, vz, mass):
    n = len(mass)
    e = 0.0
    for i in range(n):
        e = e + 0.5 * mass[i] * (vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i])
        for j in range(i + 1, n):
            dx = x[i] - x[j]
            dy = y[i] - y[j]
            dz = z[i] - z[j]
            e = e - mass[i] * mass[j] / sqrt(dx * dx + dy * dy + dz * dz)
    return e


def advance(x, y, z, vx, vy, vz, mass, dt):
    n = len(mass)
    for i in range(n):
        for j in range(i + 1, n):
            dx = x[i] - x[j]
            dy = y[i] - y[j]
            dz = z[i] - z[j]
            distance = sqrt(dx * dx + dy * dy + dz * dz)
            mag = dt / (distance * distance * distance)
            vx[i] = vx[i] - dx * mass[j] * mag
            vy[i] = vy[i] - dy * mass[j] * mag
            vz[i] = vz[i] - dz * mass[j] * mag
            vx[j] = vx[j] + dx * mass[i] * mag
            vy[j] = vy[j] + dy * mass[i] * mag
            vz[j] = vz[j] + dz * mass[i] * mag
    for i in range(n):
        x[i] = x[i] + dt * vx[i]
        y[i] = y[i] + dt * vy[i]
        z[i] = z[i] + dt * vz[i]


def main():
    steps = 1000000
    if len(sys.argv) > 1:
        steps = int(sys.argv[1])
    # Sun, Jupiter, Saturn, Uranus, Neptune.
    x = [0.0, 4.84143144246472090e+00, 8.34336671824457987e+00,
         1.28943695621391310e+01, 1.53796971148509165e+01]
    y = [0.0, -1.16032004402742839e+00, 4.12479856412430479e+00,
         -1.51111514016986312e+01, -2.59193146099879641e+01]
    z = [0.0, -1.03622044471123109e-01, -4.03523417114321381e-01,
         -2.23307578892655734e-01, 1.79258772950371181e-01]
    vx = [0.0, 1.66007664274403694e-03 * DAYS_PER_YEAR,
          -2.76742510726862411e-03 * DAYS_PER_YEAR,
          2.96460137564761618e-03 * DAYS_PER_YEAR,
          2.68067772490389322e-03 * DAYS_PER_YEAR]
    vy = [0.0, 7.69901118419740425e-03 * DAYS_PER_YEAR,
          4.99852801234917238e-03 * DAYS_PER_YEAR,
          2.37847173959480950e-03 * DAYS_PER_YEAR,
          1.62824170038242295e-03 * DAYS_PER_YEAR]
    vz = [0.0, -6.90460016972063023e-05 * DAYS_PER_YEAR,
          2.30417297573763929e-05 * DAYS_PER_YEAR,
          -2.96589568540237556e-05 * DAYS_PER_YEAR,
          -9.51592254519715870e-05 * DAYS_PER_YEAR]
    mass = [SOLAR_MASS, 9.54791938424326609e-04 * SOLAR_MASS,
            2.85885980666130812e-04 * SOLAR_MASS,
            4.36624404335156298e-05 * SOLAR_MASS,
            5.15138902046611451e-05 * SOLAR_MASS]
    offset_momentum(vx, vy, vz, mass)
    print(to_int(energy(x, y, z, vx, vy, vz, mass) * 1e9))
    for _ in range(steps):
        advance(x, y, z, vx, vy, vz, mass, 0.01)
    print(to_int(energy(x, y, z, vx, vy, vz, mass) * 1e9))


main()
