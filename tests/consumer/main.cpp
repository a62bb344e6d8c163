// SPDX-License-Identifier: MIT
// The outside consumer, C++ side, through kevent.hpp only: open a queue, add
// a 1 ms one-shot timer, get the event, close. Exit 0 and one line "ok: ..."
// on success.
#include <kevent/kevent.hpp>

#include <chrono>
#include <exception>
#include <iostream>

using namespace std::chrono_literals;

int main() {
	try {
		kevent::queue q;
		ukevent timer = kevent::timer_event(1ms).oneshot().cookie(42);
		if (!q.add(timer).empty()) {
			std::cerr << "add: not queued: " << timer << '\n';
			return 1;
		}
		ukevent buf[1];
		auto got = q.get_events(buf, 1, 5s);
		if (got.size() != 1 || kevent::origin_of(got[0]) != kevent::origin::timer ||
		    kevent::cookie_u64(got[0]) != 42 || !kevent::done(got[0])) {
			std::cerr << "get_events: " << got.size() << " events\n";
			return 1;
		}
		std::cout << "ok: " << got[0] << '\n';
		q.close();
	} catch (const std::exception &e) {
		std::cerr << e.what() << '\n';
		return 1;
	}
	return 0;
}
