// SPDX-License-Identifier: MIT
// guarded — the exception barrier and errno convention of every C entry
// point: a call returns -errno internally; here it becomes (-1, errno).
#pragma once

#include "sys/cancel.hpp"

#include <cerrno>
#include <exception>
#include <new>

namespace kevent::capi {

template <class R> R result(R r) {
	if (r < 0) {
		errno = static_cast<int>(-r);
		return -1;
	}
	return r;
}

// Exceptions never cross into C: allocation failure is ENOMEM, anything
// else the library throws (only std exceptions) an internal error reported
// as EIO. No catch (...): pthread_cancel's forced unwind must pass through
// (from the waits' cancel_window only: sys/cancel.hpp).
template <class F> auto guarded(F &&f) -> decltype(f()) {
	using R = decltype(f());
	sys::no_cancel nc;
	try {
		return result<R>(f());
	} catch (const std::bad_alloc &) {
		return result<R>(-ENOMEM);
	} catch (const std::exception &) {
		return result<R>(-EIO);
	}
}

} // namespace kevent::capi
