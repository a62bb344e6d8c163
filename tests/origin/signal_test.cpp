// SPDX-License-Identifier: MIT
// signal_test — the SIGNAL origin: the common contract (origin_contract.hpp),
// once with the program's own handler installed and once with
// KEVENT_SIGNAL_NOMASK, and the rules of kevent_signal(7):
//   - NOMASK consumes the signal: no handler, no default action, not pending;
//   - without NOMASK the program's handling happens too (handler, SIG_IGN,
//     the default action) and the queue reports it;
//   - ret_data[0] counts deliveries coalesced;
//   - several queues may watch one signal; if any asks NOMASK it is consumed;
//   - REMOVE and kevent_close restore the disposition exactly, and the signal
//     mask is never touched; a one-shot (SA_RESETHAND) handler runs once;
//     (the flags the kernel reads itself, SIGCHLD's SIG_IGN and SA_RESTART:
//     tests/regress/sigchld_watch_breaks_autoreap_test.cpp and
//     signal_watch_forces_sa_restart_test.cpp)
//   - 0, 65, SIGKILL, SIGSTOP -> EINVAL;
//   - a signal sent to a thread blocked in kevent_get_events is reported.
//
// Deadly signals are raised only while a NOMASK kevent or a handler is in
// place; every ctest case runs in its own process, so a handler a case
// installs does not leak into another.
#include "origin_contract.hpp"

#include <pthread.h>
#include <sys/wait.h>

#include <atomic>
#include <csignal>

namespace {

using namespace kevent_origin;

// TSan's runtime stands between the kernel and every signal handler: it
// installs its own, defers a signal that interrupts a blocking call until the
// call returns, and emulates SA_RESETHAND. What the kernel does with a
// disposition's flags cannot be observed there.
#if defined(__SANITIZE_THREAD__)
constexpr const char *tsan_owns_signals = "TSan delivers signals its own way (asan runs it)";
#endif

// ---- a handler the tests install, counting per signal -------------------------

std::atomic<int> hits[_NSIG];
std::atomic<int> last_si_code{0};
std::atomic<int> last_si_signo{0};

void counting_handler(int sig) { hits[sig].fetch_add(1); }

void siginfo_handler(int sig, siginfo_t *si, void *) {
	hits[sig].fetch_add(1);
	last_si_signo.store(si ? si->si_signo : -1);
	last_si_code.store(si ? si->si_code : -1);
}

void install_counting(int sig) {
	struct sigaction sa {};
	sa.sa_handler = counting_handler;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(sig, &sa, nullptr)) << std::strerror(errno);
}

void set_disposition(int sig, void (*h)(int)) {
	struct sigaction sa {};
	sa.sa_handler = h;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(sig, &sa, nullptr)) << std::strerror(errno);
}

struct sigaction disposition(int sig) {
	struct sigaction sa {};
	EXPECT_EQ(0, sigaction(sig, nullptr, &sa)) << std::strerror(errno);
	return sa;
}

bool same_set(const sigset_t &a, const sigset_t &b) {
	for (int s = 1; s < _NSIG; s++)
		if (sigismember(&a, s) != sigismember(&b, s))
			return false;
	return true;
}

// The disposition as the kernel reports it: handler, flags, mask.
void expect_same_disposition(const struct sigaction &want, const struct sigaction &got,
			     const char *when) {
	EXPECT_EQ(reinterpret_cast<void *>(want.sa_handler),
		  reinterpret_cast<void *>(got.sa_handler))
		<< when << ": the handler was not restored";
	EXPECT_EQ(want.sa_flags, got.sa_flags) << when << ": the flags were not restored";
	EXPECT_TRUE(same_set(want.sa_mask, got.sa_mask)) << when << ": sa_mask was not restored";
}

sigset_t thread_mask() {
	sigset_t m;
	sigemptyset(&m);
	EXPECT_EQ(0, pthread_sigmask(SIG_SETMASK, nullptr, &m));
	return m;
}

bool pending(int sig) {
	sigset_t p;
	sigemptyset(&p);
	EXPECT_EQ(0, sigpending(&p));
	return sigismember(&p, sig) == 1;
}

uint64_t signal_id(int sig, bool nomask = false) {
	kevent_id id{};
	id.raw[0] = static_cast<uint32_t>(sig);
	id.raw[1] = 0;
	return id.raw_u64 | (nomask ? KEVENT_SIGNAL_NOMASK : 0);
}

// ---- targets for the common contract ------------------------------------------

// The n-th real-time signal above SIGRTMIN, with a counting handler of the
// program installed (so it survives a raise after REMOVE). trigger() raises
// it in the calling thread: the handler has run when raise() returns.
template <bool Nomask> class SignalTarget {
public:
	static constexpr unsigned type = KEVENT_SIGNAL;

	explicit SignalTarget(int n) : sig_(SIGRTMIN + n) { install_counting(sig_); }
	uint64_t id() const { return signal_id(sig_, Nomask); }
	unsigned event() const { return KEVENT_SIGNAL_DELIVERY; }
	void on_added() {}
	void trigger(int) {
		int before = hits[sig_].load();
		ASSERT_EQ(0, ::raise(sig_)) << std::strerror(errno);
		handler_ran_ = hits[sig_].load() != before;
	}
	void check_fired(const ukevent &e) const {
		EXPECT_GE(e.ret_data[0], 1u) << describe(e);
		if constexpr (Nomask)
			EXPECT_FALSE(handler_ran_) << "NOMASK: the program's handler ran";
		else
			EXPECT_TRUE(handler_ran_) << "without NOMASK the program's handler must "
						     "run";
	}
	// A signal is an event, not a state: only KEVENT_REQ_READY makes it
	// ready at ADD.
	void make_ready_before_add(ukevent &e) { e.req_flags |= KEVENT_REQ_READY; }
	void check_ready_at_add(const ukevent &) const {}

private:
	int sig_;
	bool handler_ran_ = false;
};

using SignalContract = Contract<SignalTarget<false>>;
KEVENT_ORIGIN_CONTRACT(SignalContract)
KEVENT_INSTANTIATE_BACKENDS(SignalContract);

using SignalNomaskContract = Contract<SignalTarget<true>>;
KEVENT_ORIGIN_CONTRACT(SignalNomaskContract)
KEVENT_INSTANTIATE_BACKENDS(SignalNomaskContract);

// ---- kevent_signal(7), the SIGNAL origin's own rules --------------------------

class Signal : public QueueTest {
protected:
	static ukevent sig_event(int sig, bool nomask = false, unsigned req = 0,
				 uint64_t cookie = 0) {
		return make(KEVENT_SIGNAL, signal_id(sig, nomask), KEVENT_SIGNAL_DELIVERY, req,
			    cookie);
	}
	void add_armed(int q, ukevent e) {
		ASSERT_EQ(0, kevent_ctl(q, KEVENT_CTL_ADD, 1, &e)) << describe(e);
	}
	void add_armed(ukevent e) { add_armed(kfd, e); }
	void remove(int q, ukevent e) {
		ASSERT_EQ(0, kevent_ctl(q, KEVENT_CTL_REMOVE, 1, &e)) << std::strerror(errno);
		EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	}
	// One delivery of `sig` carrying `count` deliveries.
	static void expect_one(int q, int sig, uint32_t count) {
		auto ev = get(q, 1, 8, 2000);
		ASSERT_EQ(1u, ev.size()) << describe(ev);
		EXPECT_EQ(static_cast<uint32_t>(sig), ev[0].id.raw[0]) << describe(ev[0]);
		EXPECT_EQ(count, ev[0].ret_data[0]) << describe(ev[0]);
		EXPECT_EQ(0u, ev[0].ret_flags) << describe(ev[0]);
	}
};

TEST_P(Signal, NomaskConsumesTheSignalNoDefaultActionNotPending) {
	set_disposition(SIGTERM, SIG_DFL);
	add_armed(sig_event(SIGTERM, true));
	ASSERT_EQ(0, ::raise(SIGTERM));
	// Still alive: the default action (terminate) did not happen.
	EXPECT_FALSE(pending(SIGTERM)) << "a consumed signal must not stay pending";
	expect_one(kfd, SIGTERM, 1);
	EXPECT_FALSE(pending(SIGTERM));
}

TEST_P(Signal, NomaskConsumesTheSignalNoUserHandlerRuns) {
	install_counting(SIGUSR1);
	add_armed(sig_event(SIGUSR1, true));
	ASSERT_EQ(0, ::raise(SIGUSR1));
	EXPECT_EQ(0, hits[SIGUSR1].load()) << "NOMASK: the program's handler ran";
	expect_one(kfd, SIGUSR1, 1);
	EXPECT_FALSE(pending(SIGUSR1));
}

TEST_P(Signal, WithoutNomaskTheUserHandlerRunsAndTheQueueReports) {
	install_counting(SIGUSR1);
	add_armed(sig_event(SIGUSR1));
	ASSERT_EQ(0, ::raise(SIGUSR1));
	EXPECT_EQ(1, hits[SIGUSR1].load()) << "the program's handler must still run";
	expect_one(kfd, SIGUSR1, 1);
}

TEST_P(Signal, WithoutNomaskASiginfoHandlerGetsTheSiginfo) {
	struct sigaction sa {};
	sa.sa_sigaction = siginfo_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR2, &sa, nullptr));
	add_armed(sig_event(SIGUSR2));
	ASSERT_EQ(0, ::raise(SIGUSR2));
	EXPECT_EQ(1, hits[SIGUSR2].load());
	EXPECT_EQ(SIGUSR2, last_si_signo.load());
	EXPECT_EQ(SI_TKILL, last_si_code.load()) << "raise() sends with tgkill: SI_TKILL";
	expect_one(kfd, SIGUSR2, 1);
}

TEST_P(Signal, WithoutNomaskAnIgnoredSignalIsStillReported) {
	set_disposition(SIGUSR1, SIG_IGN);
	add_armed(sig_event(SIGUSR1));
	ASSERT_EQ(0, ::raise(SIGUSR1));
	expect_one(kfd, SIGUSR1, 1);
	// REMOVE puts SIG_IGN back.
	remove(kfd, sig_event(SIGUSR1));
	EXPECT_EQ(SIG_IGN, disposition(SIGUSR1).sa_handler);
}

TEST_P(Signal, WithoutNomaskASignalWhoseDefaultIsIgnoreIsReported) {
	set_disposition(SIGURG, SIG_DFL);
	add_armed(sig_event(SIGURG));
	ASSERT_EQ(0, ::raise(SIGURG));
	expect_one(kfd, SIGURG, 1);
}

// SA_RESETHAND: the program's handler runs for the first delivery only; the
// next one gets the default action (SIGUSR1: terminate), as without a kevent.
TEST_P(Signal, WithoutNomaskAOneShotHandlerRunsOnceThenTheDefaultAction) {
	pid_t child = ::fork();
	ASSERT_GE(child, 0) << std::strerror(errno);
	if (child == 0) {
		struct sigaction sa {};
		sa.sa_handler = counting_handler;
		sa.sa_flags = SA_RESETHAND;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, nullptr);
		int q = kevent_init(nullptr, 0, GetParam().flags);
		ukevent e = sig_event(SIGUSR1);
		if (q < 0 || kevent_ctl(q, KEVENT_CTL_ADD, 1, &e) != 0)
			_exit(2);
		::raise(SIGUSR1);
		if (hits[SIGUSR1].load() != 1)
			_exit(3);
		::raise(SIGUSR1);
		_exit(4); // still alive: the handler ran again, or nothing did
	}
	int status = 0;
	ASSERT_EQ(child, ::waitpid(child, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status)
					 << " (3: the handler did not run once, 4: "
					    "survived the second SIGUSR1)";
	EXPECT_EQ(SIGUSR1, WTERMSIG(status));
}

// Without NOMASK the default action still happens: the process dies of it.
TEST_P(Signal, WithoutNomaskTheDefaultActionStillHappens) {
	pid_t child = ::fork();
	ASSERT_GE(child, 0) << std::strerror(errno);
	if (child == 0) {
		struct sigaction dfl {};
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGTERM, &dfl, nullptr);
		int q = kevent_init(nullptr, 0, GetParam().flags);
		if (q < 0)
			_exit(2);
		ukevent e = sig_event(SIGTERM);
		if (kevent_ctl(q, KEVENT_CTL_ADD, 1, &e) != 0)
			_exit(3);
		::raise(SIGTERM);
		_exit(4); // still alive: the default action did not happen
	}
	int status = 0;
	ASSERT_EQ(child, ::waitpid(child, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status))
		<< "child exited with " << WEXITSTATUS(status) << " (4: survived SIGTERM)";
	EXPECT_EQ(SIGTERM, WTERMSIG(status));
}

TEST_P(Signal, DeliveriesBeforeGetEventsAreCoalescedAndCounted) {
	install_counting(SIGUSR1);
	add_armed(sig_event(SIGUSR1));
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, ::raise(SIGUSR1));
	EXPECT_EQ(3, hits[SIGUSR1].load());
	expect_one(kfd, SIGUSR1, 3);
	EXPECT_TRUE(get(kfd, 1, 8, 0).empty()) << "coalesced into one delivery";
	// The count starts again after a delivery.
	ASSERT_EQ(0, ::raise(SIGUSR1));
	expect_one(kfd, SIGUSR1, 1);
}

TEST_P(Signal, NomaskDeliveriesBeforeGetEventsAreCoalescedAndCounted) {
	add_armed(sig_event(SIGTERM, true));
	for (int i = 0; i < 3; i++)
		ASSERT_EQ(0, ::raise(SIGTERM));
	expect_one(kfd, SIGTERM, 3);
}

TEST_P(Signal, DeliveriesBeforeAddAreNotCounted) {
	install_counting(SIGUSR1);
	ASSERT_EQ(0, ::raise(SIGUSR1));
	add_armed(sig_event(SIGUSR1));
	EXPECT_TRUE(get(kfd, 1, 8, 50).empty()) << "a signal before ADD was reported";
	ASSERT_EQ(0, ::raise(SIGUSR1));
	expect_one(kfd, SIGUSR1, 1);
}

TEST_P(Signal, SeveralQueuesWatchingOneSignalAllReportIt) {
	install_counting(SIGUSR1);
	owned_queue b(kevent_init(nullptr, 0, GetParam().flags));
	owned_queue c(kevent_init(nullptr, 0, GetParam().flags));
	ASSERT_GE(b.get(), 0);
	ASSERT_GE(c.get(), 0);
	for (int q : {kfd, b.get(), c.get()})
		add_armed(q, sig_event(SIGUSR1));
	ASSERT_EQ(0, ::raise(SIGUSR1));
	ASSERT_EQ(0, ::raise(SIGUSR1));
	EXPECT_EQ(2, hits[SIGUSR1].load()) << "the handler runs once per signal, not per queue";
	for (int q : {kfd, b.get(), c.get()})
		expect_one(q, SIGUSR1, 2);
	EXPECT_EQ(0, kevent_close(b.release()));
	EXPECT_EQ(0, kevent_close(c.release()));
}

TEST_P(Signal, OneNomaskRegistrationConsumesTheSignalForAllQueues) {
	install_counting(SIGUSR1);
	owned_queue b(kevent_init(nullptr, 0, GetParam().flags));
	ASSERT_GE(b.get(), 0);
	add_armed(kfd, sig_event(SIGUSR1));
	add_armed(b.get(), sig_event(SIGUSR1, true));
	ASSERT_EQ(0, ::raise(SIGUSR1));
	EXPECT_EQ(0, hits[SIGUSR1].load()) << "a NOMASK registration elsewhere consumes it";
	expect_one(kfd, SIGUSR1, 1);
	expect_one(b.get(), SIGUSR1, 1);
	// The NOMASK one gone, the handler runs again.
	remove(b.get(), sig_event(SIGUSR1, true));
	ASSERT_EQ(0, ::raise(SIGUSR1));
	EXPECT_EQ(1, hits[SIGUSR1].load());
	expect_one(kfd, SIGUSR1, 1);
	EXPECT_EQ(0, kevent_close(b.release()));
}

TEST_P(Signal, NomaskAndPlainKeventsForOneSignalAreTwoKeys) {
	add_armed(sig_event(SIGUSR1, true, 0, 1));
	add_armed(sig_event(SIGUSR1, false, 0, 2));
	EXPECT_EQ(2u, queue_stats(kfd).registered);
	ASSERT_EQ(0, ::raise(SIGUSR1));
	auto ev = get(kfd, 2, 8, 2000);
	ASSERT_EQ(2u, ev.size()) << describe(ev);
}

TEST_P(Signal, RealTimeSignalsAreCountedEach) {
	install_counting(SIGRTMIN);
	add_armed(sig_event(SIGRTMIN));
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(0, ::raise(SIGRTMIN));
	expect_one(kfd, SIGRTMIN, 5);
}

TEST_P(Signal, HighestSignalNumberIsAccepted) {
	install_counting(SIGRTMAX);
	add_armed(sig_event(SIGRTMAX));
	ASSERT_EQ(0, ::raise(SIGRTMAX));
	expect_one(kfd, SIGRTMAX, 1);
}

// ---- REMOVE and kevent_close restore exactly what was there --------------------

class SignalRestore : public Signal {
protected:
	// Installs `before`, watches SIGUSR1 through `watchers` queues (the last
	// one NOMASK when asked), checks the mask never changes, takes the
	// watchers away with REMOVE or kevent_close, and compares.
	void round_trip(const struct sigaction &before, bool by_close, bool with_nomask) {
		ASSERT_EQ(0, sigaction(SIGUSR1, &before, nullptr)) << std::strerror(errno);
		const struct sigaction installed = disposition(SIGUSR1);
		const sigset_t mask0 = thread_mask();
		owned_queue b(kevent_init(nullptr, 0, GetParam().flags));
		ASSERT_GE(b.get(), 0);
		add_armed(kfd, sig_event(SIGUSR1));
		add_armed(b.get(), sig_event(SIGUSR1, with_nomask));
		EXPECT_TRUE(same_set(mask0, thread_mask())) << "ADD changed the signal mask";
		if (with_nomask) {
			ASSERT_EQ(0, ::raise(SIGUSR1));
			expect_one(kfd, SIGUSR1, 1);
		}
		// The first watcher gone: still ours.
		if (by_close) {
			EXPECT_EQ(0, kevent_close(kfd));
			kfd = -1;
		} else {
			remove(kfd, sig_event(SIGUSR1));
		}
		EXPECT_TRUE(same_set(mask0, thread_mask()));
		// The last watcher gone: exactly what was installed.
		if (by_close)
			EXPECT_EQ(0, kevent_close(b.release()));
		else
			remove(b.get(), sig_event(SIGUSR1, with_nomask));
		expect_same_disposition(installed, disposition(SIGUSR1),
					by_close ? "after kevent_close" : "after REMOVE");
		EXPECT_TRUE(same_set(mask0, thread_mask())) << "the signal mask changed";
		EXPECT_FALSE(pending(SIGUSR1));
	}

	static struct sigaction with_handler(void (*h)(int), int flags = 0) {
		struct sigaction sa {};
		sa.sa_handler = h;
		sa.sa_flags = flags;
		sigemptyset(&sa.sa_mask);
		return sa;
	}
	static struct sigaction user_handler() {
		struct sigaction sa {};
		sa.sa_sigaction = siginfo_handler;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaddset(&sa.sa_mask, SIGUSR2);
		sigaddset(&sa.sa_mask, SIGHUP);
		return sa;
	}
};

TEST_P(SignalRestore, RemoveRestoresSigDfl) { round_trip(with_handler(SIG_DFL), false, false); }
TEST_P(SignalRestore, RemoveRestoresSigIgn) { round_trip(with_handler(SIG_IGN), false, false); }
TEST_P(SignalRestore, RemoveRestoresAUserHandlerWithFlagsAndMask) {
	round_trip(user_handler(), false, false);
}
TEST_P(SignalRestore, CloseRestoresSigDfl) { round_trip(with_handler(SIG_DFL), true, false); }
TEST_P(SignalRestore, CloseRestoresSigIgn) { round_trip(with_handler(SIG_IGN), true, false); }
TEST_P(SignalRestore, CloseRestoresAUserHandlerWithFlagsAndMask) {
	round_trip(user_handler(), true, false);
}
TEST_P(SignalRestore, RemoveRestoresAUserHandlerAfterANomaskWatcher) {
	round_trip(user_handler(), false, true);
}
TEST_P(SignalRestore, CloseRestoresSigDflAfterANomaskWatcher) {
	round_trip(with_handler(SIG_DFL), true, true);
}

// SA_RESETHAND: the kernel would reset the library's handler, so the library
// runs the program's handler once itself; the last REMOVE leaves what the
// kernel leaves after a one-shot handler ran (measured on SIGUSR2, never
// watched).
TEST_P(SignalRestore, AOneShotHandlerThatRanIsRestoredAsTheKernelLeavesIt) {
#if defined(__SANITIZE_THREAD__)
	GTEST_SKIP() << tsan_owns_signals;
#endif
	const struct sigaction oneshot = with_handler(counting_handler, SA_RESETHAND | SA_RESTART);
	ASSERT_EQ(0, sigaction(SIGUSR2, &oneshot, nullptr));
	ASSERT_EQ(0, ::raise(SIGUSR2));
	const struct sigaction kernel_leaves = disposition(SIGUSR2);
	ASSERT_EQ(SIG_DFL, kernel_leaves.sa_handler);

	ASSERT_EQ(0, sigaction(SIGUSR1, &oneshot, nullptr));
	add_armed(sig_event(SIGUSR1));
	ASSERT_EQ(0, ::raise(SIGUSR1));
	EXPECT_EQ(1, hits[SIGUSR1].load());
	expect_one(kfd, SIGUSR1, 1);
	remove(kfd, sig_event(SIGUSR1));
	expect_same_disposition(kernel_leaves, disposition(SIGUSR1),
				"after a one-shot handler ran");
}

TEST_P(SignalRestore, OneshotDeliveryRestoresTheDisposition) {
	install_counting(SIGUSR1);
	const struct sigaction installed = disposition(SIGUSR1);
	add_armed(sig_event(SIGUSR1, false, KEVENT_REQ_ONESHOT));
	ASSERT_EQ(0, ::raise(SIGUSR1));
	auto ev = get(kfd, 1, 8, 2000);
	ASSERT_EQ(1u, ev.size());
	EXPECT_EQ(KEVENT_RET_DONE, ev[0].ret_flags);
	expect_same_disposition(installed, disposition(SIGUSR1), "after a ONESHOT delivery");
}

TEST_P(SignalRestore, ReadyAtAddCopyBackRestoresTheDisposition) {
	set_disposition(SIGUSR1, SIG_IGN);
	ukevent e = sig_event(SIGUSR1, true, KEVENT_REQ_READY);
	ASSERT_EQ(1, add(e)) << describe(e);
	EXPECT_EQ(KEVENT_RET_DONE, e.ret_flags) << describe(e);
	EXPECT_EQ(SIG_IGN, disposition(SIGUSR1).sa_handler) << "a kevent copied back at ADD is not "
							       "kept: nothing may stay installed";
}

TEST_P(SignalRestore, FailedAddLeavesTheDispositionAlone) {
	set_disposition(SIGUSR1, SIG_IGN);
	ukevent e = sig_event(SIGUSR1, false, 0x100u); // bad req_flags
	ASSERT_EQ(1, add(e));
	EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags);
	EXPECT_EQ(SIG_IGN, disposition(SIGUSR1).sa_handler);
}

// ---- argument checks ----------------------------------------------------------

TEST_P(Signal, InvalidSignalNumbersAreBrokenEinval) {
	for (uint32_t sig : {0u, 65u, uint32_t(SIGKILL), uint32_t(SIGSTOP), 1000u, 0xffffffffu}) {
		for (bool nomask : {false, true}) {
			ukevent e = sig_event(static_cast<int>(sig), nomask);
			ASSERT_EQ(1, add(e)) << "signal " << sig;
			EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags)
				<< "signal " << sig << " " << describe(e);
			EXPECT_EQ(-EINVAL, err_of(e)) << "signal " << sig << " " << describe(e);
		}
	}
	EXPECT_EQ(0u, queue_stats(kfd).registered);
	EXPECT_EQ(SIG_DFL, disposition(SIGKILL).sa_handler);
}

TEST_P(Signal, BadEventBitsOrIdBitsAreEinval) {
	ukevent bad_event = sig_event(SIGUSR1);
	bad_event.event = 0;
	ukevent extra_event = sig_event(SIGUSR1);
	extra_event.event = KEVENT_SIGNAL_DELIVERY | 0x2u;
	ukevent bad_id = sig_event(SIGUSR1);
	bad_id.id.raw[1] = 1;
	for (ukevent e : {bad_event, extra_event, bad_id}) {
		ASSERT_EQ(1, add(e));
		EXPECT_EQ(KEVENT_RET_BROKEN | KEVENT_RET_DONE, e.ret_flags) << describe(e);
		EXPECT_EQ(-EINVAL, err_of(e)) << describe(e);
	}
	EXPECT_EQ(0u, queue_stats(kfd).registered);
}

// ---- threads --------------------------------------------------------------------

// The signal lands in the very thread that sleeps in the queue: the wait
// returns with the event (never EINTR).
void pthread_kill_to_a_waiter(int kfd, int sig) {
	std::atomic<int> got{-2};
	std::atomic<int> err{0};
	std::atomic<bool> entering{false};
	ukevent out[4]{};
	std::thread waiter([&] {
		entering = true;
		timespec t = ms(5000);
		int n = kevent_get_events(kfd, 1, 4, &t, out, 0);
		err = errno;
		got = n;
	});
	while (!entering)
		std::this_thread::yield();
	std::this_thread::sleep_for(std::chrono::milliseconds(100)); // most likely blocked by now
	auto t0 = std::chrono::steady_clock::now();
	ASSERT_EQ(0, pthread_kill(waiter.native_handle(), sig));
	waiter.join();
	auto took = std::chrono::steady_clock::now() - t0;
	ASSERT_EQ(1, got.load()) << "kevent_get_events returned " << got.load() << " errno "
				 << std::strerror(err.load());
	EXPECT_EQ(static_cast<uint32_t>(sig), out[0].id.raw[0]) << describe(out[0]);
	EXPECT_EQ(1u, out[0].ret_data[0]) << describe(out[0]);
	EXPECT_LT(took, std::chrono::milliseconds(4000)) << "the wait ran into its timeout";
}

TEST_P(Signal, PthreadKillToAThreadBlockedInGetEventsIsReported) {
	install_counting(SIGUSR1);
	add_armed(sig_event(SIGUSR1));
	pthread_kill_to_a_waiter(kfd, SIGUSR1);
	EXPECT_EQ(1, hits[SIGUSR1].load());
}

TEST_P(Signal, NomaskPthreadKillToAThreadBlockedInGetEventsIsReported) {
	add_armed(sig_event(SIGTERM, true));
	pthread_kill_to_a_waiter(kfd, SIGTERM);
}

// A signal sent to the process (kill(2)) while another thread waits: any
// thread may take it, the queue reports it.
TEST_P(Signal, KillToTheProcessWhileAThreadWaitsIsReported) {
	install_counting(SIGUSR2);
	add_armed(sig_event(SIGUSR2));
	std::atomic<int> got{-2};
	ukevent out[4]{};
	std::thread waiter([&] {
		timespec t = ms(5000);
		got = kevent_get_events(kfd, 1, 4, &t, out, 0);
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(100));
	ASSERT_EQ(0, ::kill(::getpid(), SIGUSR2));
	waiter.join();
	ASSERT_EQ(1, got.load());
	EXPECT_EQ(static_cast<uint32_t>(SIGUSR2), out[0].id.raw[0]);
	EXPECT_EQ(1, hits[SIGUSR2].load());
}

KEVENT_INSTANTIATE_BACKENDS(Signal);
KEVENT_INSTANTIATE_BACKENDS(SignalRestore);

} // namespace
