// Symbols of libheaplens.so that a program may bind to. The version script (heaplens.map)
// has the final say; everything else is hidden.
#pragma once

#define HEAPLENS_EXPORT __attribute__((visibility("default")))
