// SPDX-License-Identifier: MIT
// UNOTIFY origin: user events. Any id, any event bits; ready only through
// KEVENT_CTL_READY (or KEVENT_REQ_READY at ADD). The ret_data given with READY
// (or with the ADD) is delivered: two words of payload.
#include "origin/origin.hpp"

namespace kevent::detail::unotify_origin {

int validate(const ukevent &) { return 0; }

int attach(origin_services &, knode &n, const ukevent &req, bool &) {
	if (req.req_flags & KEVENT_REQ_READY) {
		n.uk.ret_data[0] = req.ret_data[0];
		n.uk.ret_data[1] = req.ret_data[1];
	}
	return 0;
}

void detach(origin_services &, knode &) {}

void on_user_ready(knode &n, const ukevent &req) {
	n.uk.ret_data[0] = req.ret_data[0];
	n.uk.ret_data[1] = req.ret_data[1];
}

} // namespace kevent::detail::unotify_origin
