// SPDX-License-Identifier: MIT
// signal_chain — the program's sigaction(2) and signal(3) while the SIGNAL
// origin watches a signal (signal.cpp, kevent_signal(7)): libkevent defines
// both, so that a later disposition of the program is recorded and chained
// behind the library's handler instead of replacing it.
#pragma once

#include <csignal>

namespace kevent::detail::signal_origin {

// The C library's sigaction (the next definition after ours).
int real_sigaction(int sig, const struct sigaction *act, struct sigaction *oldact);

// sigaction(sig, act, oldact) of the program: true when sig is watched, and
// then done — act recorded as the disposition ours chains to, oldact = the
// one recorded before. False: not watched, the caller passes it on.
bool chain(int sig, const struct sigaction *act, struct sigaction *oldact);

} // namespace kevent::detail::signal_origin
