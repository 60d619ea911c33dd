/*
 * internal.h -- transitional: everything private to libimgfmt in one
 * include.  New code includes what it uses instead: core/image.h (the
 * handle), core/driver.h (input drivers), core/window.h, core/error.h.
 */
#ifndef IMGFMT_INTERNAL_H
#define IMGFMT_INTERNAL_H

#ifndef IMGFMT_BUILDING
#error "internal.h is private to libimgfmt"
#endif

#include "core/driver.h"
#include "core/image.h"
#include "core/window.h"

#endif
