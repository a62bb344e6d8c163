// SPDX-License-Identifier: MIT
// aio — the NAIO (sockets) and AIO (files) origins: kevents that
// kevent_aio_*(3) create for asynchronous operations (core/async_io.cpp).
// They cannot be ADDed, MODIFYed or made READY by hand; REMOVE cancels.
#include "origin/origin.hpp"

#include <cerrno>

namespace kevent::detail {
namespace {

int validate_io(const ukevent &) { return EINVAL; }

void detach_io(origin_services &svc, knode &n) { svc.cancel_io(n); }

} // namespace

const origin_ops naio_origin = {
	.name = "naio",
	.uses_fd = false,
	.watches_sources = false,
	.is_io = true,
	.validate = validate_io,
	.detach = detach_io,
};

const origin_ops aio_origin = {
	.name = "aio",
	.uses_fd = false,
	.watches_sources = false,
	.is_io = true,
	.validate = validate_io,
	.detach = detach_io,
};

} // namespace kevent::detail
