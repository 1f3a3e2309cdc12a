// The C++ forest's own random numbers: xoshiro256** (Blackman and Vigna 2018), its 256-bit
// state filled by splitmix64 from (seed, stream). One generator per tree (stream = the
// tree's index), so a tree's bootstrap sample and feature draws depend only on the seed
// and the tree, not on the order trees are grown in.
#pragma once

#include <cstdint>

namespace cppforest {

class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) {
    uint64_t z = seed ^ (0x9e3779b97f4a7c15ULL * (stream + 1));
    for (uint64_t& s : s_) s = splitmix64(z);
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n) for n >= 1, without bias (Lemire's multiply-shift with rejection).
  uint32_t below(uint32_t n) {
    uint64_t m = static_cast<uint64_t>(static_cast<uint32_t>(next() >> 32)) * n;
    uint32_t low = static_cast<uint32_t>(m);
    if (low < n) {
      const uint32_t floor = static_cast<uint32_t>(-n) % n;
      while (low < floor) {
        m = static_cast<uint64_t>(static_cast<uint32_t>(next() >> 32)) * n;
        low = static_cast<uint32_t>(m);
      }
    }
    return static_cast<uint32_t>(m >> 32);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& z) {
    uint64_t r = (z += 0x9e3779b97f4a7c15ULL);
    r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ULL;
    r = (r ^ (r >> 27)) * 0x94d049bb133111ebULL;
    return r ^ (r >> 31);
  }
  uint64_t s_[4];
};

}  // namespace cppforest
