// SPDX-License-Identifier: MIT
// scenario.hpp — what the fault suites share: one event source per origin
// (something to register and a way to make it fire), the loop over every
// fault point a scenario reaches, and the checks every run ends with.
//
// A run: open the sources and a queue (unarmed), arm the injector around
// the one call under test, then prove — unarmed — that the failure was
// clean: a documented errno, the queue still delivers (every source that is
// registered fires; a failed one registers afresh and fires), the queue's
// statistics agree with what the call reported, and once everything is
// closed no descriptor and no registration is left (memory: LSan, in the
// asan preset).
#pragma once

#include "inject.hpp"
#include "kevent_test.hpp"

#include <fcntl.h>
#include <memory>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <thread>

namespace kevent_fault {

// One event source per origin, created unarmed.
class source {
public:
	virtual ~source() = default;
	// The ADD entry for this source, with `cookie`.
	virtual ukevent entry(uint64_t cookie) const = 0;
	// Make it fire (kfd: the queue, for user events).
	virtual void trigger(int kfd) = 0;
	unsigned type() const { return entry(0).type; }
};

class socket_source : public source {
public:
	explicit socket_source(unsigned type) : type_(type) {
		EXPECT_EQ(0,
			  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv_));
	}
	~socket_source() override {
		close(sv_[0]);
		close(sv_[1]);
	}
	ukevent entry(uint64_t cookie) const override {
		unsigned bits = type_ == KEVENT_POLL ? unsigned(POLLIN) : KEVENT_SOCKET_RECV;
		return kevent_test::make(type_, unsigned(sv_[0]), bits, 0, cookie);
	}
	void trigger(int) override { EXPECT_EQ(1, write(sv_[1], "x", 1)); }

private:
	unsigned type_;
	int sv_[2] = {-1, -1};
};

class pipe_source : public source {
public:
	pipe_source() { EXPECT_EQ(0, pipe2(p_, O_NONBLOCK | O_CLOEXEC)); }
	~pipe_source() override {
		close(p_[0]);
		close(p_[1]);
	}
	ukevent entry(uint64_t cookie) const override {
		return kevent_test::make(KEVENT_PIPE, unsigned(p_[0]), KEVENT_PIPE_RECV, 0, cookie);
	}
	void trigger(int) override { EXPECT_EQ(1, write(p_[1], "x", 1)); }

private:
	int p_[2] = {-1, -1};
};

// A one-shot timer long enough never to be due before its ADD returns,
// short enough not to slow the loop.
class timer_source : public source {
public:
	ukevent entry(uint64_t cookie) const override {
		return kevent_test::make(KEVENT_TIMER, kevent_test::timer_id(20),
					 KEVENT_TIMER_FIRED, KEVENT_REQ_ONESHOT, cookie);
	}
	void trigger(int) override {} // time does it
};

class user_source : public source {
public:
	ukevent entry(uint64_t cookie) const override {
		return kevent_test::make(KEVENT_UNOTIFY, 77, 1, 0, cookie);
	}
	void trigger(int kfd) override {
		ukevent uk = entry(0);
		EXPECT_EQ(1, kevent_ctl(kfd, KEVENT_CTL_READY, 1, &uk)) << std::strerror(errno);
	}
};

// SIGURG: ignored by default, so the process's own handling is harmless.
class signal_source : public source {
public:
	ukevent entry(uint64_t cookie) const override {
		return kevent_test::make(KEVENT_SIGNAL, SIGURG, KEVENT_SIGNAL_DELIVERY, 0, cookie);
	}
	void trigger(int) override { EXPECT_EQ(0, raise(SIGURG)); }
};

class inode_source : public source {
public:
	inode_source() {
		char tmpl[] = "/tmp/kevent-fault-XXXXXX";
		EXPECT_NE(nullptr, mkdtemp(tmpl));
		dir_ = tmpl;
		dfd_ = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		EXPECT_GE(dfd_, 0);
	}
	~inode_source() override {
		for (int i = 0; i < made_; i++)
			unlink((dir_ + "/f" + std::to_string(i)).c_str());
		close(dfd_);
		rmdir(dir_.c_str());
	}
	ukevent entry(uint64_t cookie) const override {
		return kevent_test::make(KEVENT_INODE, unsigned(dfd_), KEVENT_INODE_CREATE, 0,
					 cookie);
	}
	void trigger(int) override {
		std::string f = dir_ + "/f" + std::to_string(made_++);
		int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		EXPECT_GE(fd, 0);
		close(fd);
	}

private:
	std::string dir_;
	int dfd_ = -1;
	int made_ = 0;
};

// A child that waits to be killed.
class proc_source : public source {
public:
	proc_source() {
		pid_ = fork();
		if (pid_ == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL); // never outlive a crashed test
			for (;;)
				pause();
		}
		EXPECT_GT(pid_, 0);
	}
	~proc_source() override {
		kill(pid_, SIGKILL);
		waitpid(pid_, nullptr, 0);
	}
	ukevent entry(uint64_t cookie) const override {
		return kevent_test::make(KEVENT_PROC, unsigned(pid_), KEVENT_PROC_EXIT, 0, cookie);
	}
	void trigger(int) override { EXPECT_EQ(0, kill(pid_, SIGKILL)); }

private:
	pid_t pid_ = -1;
};

inline std::unique_ptr<source> make_source(unsigned type) {
	switch (type) {
	case KEVENT_SOCKET:
	case KEVENT_POLL:
		return std::make_unique<socket_source>(type);
	case KEVENT_PIPE:
		return std::make_unique<pipe_source>();
	case KEVENT_TIMER:
		return std::make_unique<timer_source>();
	case KEVENT_UNOTIFY:
		return std::make_unique<user_source>();
	case KEVENT_SIGNAL:
		return std::make_unique<signal_source>();
	case KEVENT_INODE:
		return std::make_unique<inode_source>();
	case KEVENT_PROC:
		return std::make_unique<proc_source>();
	}
	ADD_FAILURE() << "no source for type " << type;
	return nullptr;
}

// The origins the scenarios cover (issue 8 part 3).
inline std::vector<unsigned> all_types() {
	return {KEVENT_SOCKET,  KEVENT_POLL,   KEVENT_PIPE,  KEVENT_TIMER,
		KEVENT_UNOTIFY, KEVENT_SIGNAL, KEVENT_INODE, KEVENT_PROC};
}

inline std::vector<std::unique_ptr<source>> make_sources(const std::vector<unsigned> &types) {
	std::vector<std::unique_ptr<source>> v;
	for (unsigned t : types)
		v.push_back(make_source(t));
	return v;
}

using sources = std::vector<std::unique_ptr<source>>;

inline const char *type_name(unsigned type) {
	static const char *const names[KEVENT_MAX] = {"SOCKET",      "INODE",   "TIMER", "POLL",
						      "NAIO",        "AIO",     "PIPE",  "SIGNAL",
						      "POSIX_TIMER", "UNOTIFY", "PROC"};
	return type < KEVENT_MAX ? names[type] : "?";
}

// Register every source (unarmed), source i with cookie base + i; returns
// the cookies.
inline std::set<uint64_t> register_all(int kfd, const sources &srcs, uint64_t base,
				       unsigned req_flags = 0) {
	std::set<uint64_t> cookies;
	for (size_t i = 0; i < srcs.size(); i++) {
		ukevent uk = srcs[i]->entry(base + i);
		uk.req_flags |= req_flags;
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &uk)) << type_name(uk.type);
		cookies.insert(base + i);
	}
	return cookies;
}

inline void trigger_all(int kfd, const sources &srcs) {
	for (auto &s : srcs)
		s->trigger(kfd);
}

// The errno a fault must surface as: epoll's and inotify's ENOSPC (a
// per-user limit) is documented as ENOMEM; the rest go through unchanged.
inline int surfaced(int injected) { return injected == ENOSPC ? ENOMEM : injected; }

// What a failed entry or call may say. With a fault fired: exactly what was
// injected (as surfaced()); without one: nothing may fail.
inline void expect_clean_errno(int err, const char *where) {
	ASSERT_TRUE(fired())
		<< where << " failed with " << std::strerror(err) << " but no fault was injected";
	EXPECT_EQ(surfaced(fired_errno()), err)
		<< where << ": " << strerrorname_np(err) << " for " << describe();
}

// Figures of one scenario, printed at the end (the report's numbers).
struct figures {
	long points = 0;    // fault points the dry run reached
	long runs = 0;      // runs with one fault each (points x errnos)
	long tolerated = 0; // runs whose call succeeded despite the fault
	std::map<std::string, long> by_point;
};

// Runs `one(k, variant)` once as a dry run (k = 0: arm without failing) to
// learn the points it reaches, then once per point and errno. `one` arms
// the injector itself (class armed) around the call under test, and
// returns true when that call reported a failure.
template <class One> figures for_each_fault(const char *scenario, One &&one) {
	figures f;
	one(0L, 0);
	f.points = reached();
	std::vector<point> trace;
	for (long k = 1; k <= f.points; k++)
		trace.push_back(traced(k));
	for (long k = 1; k <= f.points && !::testing::Test::HasFatalFailure(); k++) {
		point p = trace[static_cast<size_t>(k - 1)];
		f.by_point[name_of(p)]++;
		for (int v = 0; v < variants_of(p); v++) {
			SCOPED_TRACE(std::string(scenario) + ": fault at point " +
				     std::to_string(k) + " (" + name_of(p) + ", " +
				     strerrorname_np(errno_of(p, v)) + ")");
			bool failed = one(k, v);
			f.runs++;
			f.tolerated += !failed;
			EXPECT_TRUE(fired()) << "the run did not reach point " << k
					     << ": the scenario is not deterministic";
			if (::testing::Test::HasFatalFailure())
				break;
		}
	}
	std::cout << "[ figures  ] " << scenario << ": " << f.points << " fault points";
	for (auto &[name, n] : f.by_point)
		std::cout << " " << name << "=" << n;
	std::cout << "; " << f.runs << " runs, " << f.tolerated << " tolerated\n";
	::testing::Test::RecordProperty("fault_points", static_cast<int>(f.points));
	::testing::Test::RecordProperty("fault_runs", static_cast<int>(f.runs));
	return f;
}

// Collect events until every cookie in `want` has come (or 5 s pass); each
// must come exactly once and not BROKEN. `got` may hold some already.
inline void expect_delivered(int kfd, std::set<uint64_t> want, std::vector<ukevent> got = {}) {
	auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
	std::multiset<uint64_t> seen;
	for (;;) {
		for (const ukevent &e : got) {
			EXPECT_EQ(0u, e.ret_flags & KEVENT_RET_BROKEN)
				<< "type " << e.type << " came BROKEN, -ret_data[1] = "
				<< -static_cast<int>(e.ret_data[1]);
			seen.insert(kevent_test::cookie_of(e));
		}
		bool all = std::all_of(want.begin(), want.end(),
				       [&](uint64_t c) { return seen.count(c) > 0; });
		if (all || std::chrono::steady_clock::now() > until)
			break;
		got = kevent_test::get(kfd, 1, 16, 100);
	}
	for (uint64_t c : want)
		EXPECT_EQ(1u, seen.count(c)) << "cookie " << c;
	// Nothing more (no duplicate, nothing unexpected).
	for (const ukevent &e : kevent_test::get(kfd, 0, 16, 0))
		ADD_FAILURE() << "unexpected event type " << e.type << " cookie "
			      << kevent_test::cookie_of(e);
	for (uint64_t c : seen)
		EXPECT_EQ(1u, want.count(c)) << "unexpected cookie " << c;
}

// The end of every run: the queue closes, and nothing is left.
inline void expect_nothing_left(int fds_before) {
	EXPECT_EQ(fds_before, open_fds()) << "a descriptor leaked";
	kevent_stats st = kevent_test::global_stats();
	EXPECT_EQ(0u, st.queues) << "a queue leaked";
	EXPECT_EQ(0u, st.registered) << "a registration leaked";
}

// Fixture: the backend under test (skipped when it is not available here),
// no queue of its own (each run opens its own, so that descriptors count).
class FaultTest : public ::testing::TestWithParam<kevent_test::backend_case> {
protected:
	void SetUp() override {
		int kfd = kevent_init(nullptr, 0, GetParam().flags);
		if (kfd < 0 && (errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP))
			GTEST_SKIP() << "backend " << GetParam().name
				     << " is not available here: " << std::strerror(errno);
		ASSERT_GE(kfd, 0) << std::strerror(errno);
		// The SIGNAL origin's eventfd is process-wide and lives as long
		// as the process: let it exist before descriptors are counted.
		ukevent sig = signal_source().entry(0);
		EXPECT_EQ(0, kevent_ctl(kfd, KEVENT_CTL_ADD, 1, &sig));
		kevent_close(kfd);
		old_urg_ = disposition(SIGURG);
	}
	void TearDown() override {
		// A failed SIGNAL ADD must put the old disposition back.
		EXPECT_EQ(old_urg_, disposition(SIGURG)) << "SIGURG's disposition leaked";
		kevent_stats st = kevent_test::global_stats();
		EXPECT_EQ(0u, st.queues);
		EXPECT_EQ(0u, st.registered);
	}
	unsigned backend() const { return GetParam().flags; }
	int new_queue() {
		int kfd = kevent_init(nullptr, 0, backend());
		EXPECT_GE(kfd, 0) << std::strerror(errno);
		return kfd;
	}
	static void *disposition(int sig) {
		struct sigaction sa {};
		sigaction(sig, nullptr, &sa);
		return reinterpret_cast<void *>(sa.sa_handler);
	}

private:
	void *old_urg_ = nullptr;
};

} // namespace kevent_fault
