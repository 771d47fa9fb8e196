// The CUDA layer's settings (HEAPLENS_CUDA, HEAPLENS_CUDA_POOL), set once by the
// interposer's start-up before the program runs; read by every hook.
#pragma once

#include "../config.h"

namespace heaplens::cuda {

void configure(const CudaConfig& c) noexcept;
bool hooks_enabled() noexcept;
bool pool_enabled() noexcept;

}  // namespace heaplens::cuda
