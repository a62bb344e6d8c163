// SPDX-License-Identifier: MIT
// harness.hpp — what every bench_cmp_<library> executable shares around the
// workloads: the command line, the clock, the result lines the runner
// (bench/run.py) parses, the syscall-counting window, file-descriptor limits
// and RSS.
//
// Command line: bench_cmp_<library> WORKLOAD [key=value ...]. Results are
// printed as one line "RESULT key=value ..." per measurement, so that the
// runner never depends on prose; anything else on stdout is commentary.
#pragma once

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <string_view>

namespace bench {

// key=value arguments with defaults.
class options {
public:
	options(int argc, char **argv, int first) {
		for (int i = first; i < argc; ++i) {
			std::string_view a = argv[i];
			auto eq = a.find('=');
			if (eq == std::string_view::npos) {
				std::fprintf(stderr, "bench: argument '%s' is not key=value\n",
					     argv[i]);
				std::exit(2);
			}
			kv_[std::string(a.substr(0, eq))] = std::string(a.substr(eq + 1));
		}
	}
	uint64_t num(const char *key, uint64_t def) const {
		auto it = kv_.find(key);
		return it == kv_.end() ? def : std::strtoull(it->second.c_str(), nullptr, 10);
	}
	double real(const char *key, double def) const {
		auto it = kv_.find(key);
		return it == kv_.end() ? def : std::strtod(it->second.c_str(), nullptr);
	}
	std::string str(const char *key, const char *def) const {
		auto it = kv_.find(key);
		return it == kv_.end() ? def : it->second;
	}

private:
	std::map<std::string, std::string> kv_;
};

[[noreturn]] inline void die(const char *what) {
	std::fprintf(stderr, "bench: %s: %s\n", what, std::strerror(errno));
	std::exit(1);
}

// Workloads report "n/a" (exit 3) when a library cannot run them at all, so
// that the runner prints the reason instead of a number.
constexpr int exit_unavailable = 3;
[[noreturn]] inline void unavailable(const char *why) {
	std::printf("UNAVAILABLE %s\n", why);
	std::fflush(stdout);
	std::exit(exit_unavailable);
}

inline uint64_t now_ns() {
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

inline double seconds_since(uint64_t t0) { return double(now_ns() - t0) / 1e9; }

// One result line; the runner keys figures by (workload, label, metric).
class result {
public:
	explicit result(const char *label) { line_ = std::string("RESULT label=") + label; }
	result &add(const char *key, double v) {
		char buf[64];
		std::snprintf(buf, sizeof buf, " %s=%.9g", key, v);
		line_ += buf;
		return *this;
	}
	~result() {
		std::printf("%s\n", line_.c_str());
		std::fflush(stdout);
	}

private:
	std::string line_;
};

// The timed window for `perf stat -D -1 --control fifo:CTL,ACK`: the runner
// starts perf with counting disabled and names the fifos in
// BENCH_PERF_CTL / BENCH_PERF_ACK; the workload enables counting around the
// part it times, so that setup (socketpairs, registrations) is not counted.
// Without the variables both calls do nothing.
class syscall_window {
public:
	void enable() { command("enable\n"); }
	void disable() { command("disable\n"); }

private:
	static void command(const char *cmd) {
		static const char *ctl = std::getenv("BENCH_PERF_CTL");
		static const char *ack = std::getenv("BENCH_PERF_ACK");
		if (!ctl || !ack)
			return;
		FILE *c = std::fopen(ctl, "w");
		FILE *a = std::fopen(ack, "r");
		if (!c || !a)
			die("perf control fifo");
		std::fputs(cmd, c);
		std::fflush(c);
		char buf[16];
		(void)std::fgets(buf, sizeof buf, a); // "ack\n": perf has switched
		std::fclose(c);
		std::fclose(a);
	}
};

// Raises the soft RLIMIT_NOFILE to the hard limit and returns how many
// descriptors a workload may still open (keeping a margin for the loop's
// own: epoll, eventfds, timerfds, the ring).
inline uint64_t fd_budget() {
	rlimit rl{};
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	constexpr uint64_t margin = 64;
	return rl.rlim_cur > margin ? rl.rlim_cur - margin : 0;
}

// Caps a number of socketpairs to what the descriptor limit allows, saying
// so (the runner copies NOTE lines into the results).
inline uint64_t cap_pairs(uint64_t want, const char *what) {
	uint64_t can = fd_budget() / 2;
	if (want <= can)
		return want;
	std::printf("NOTE %s: %llu socketpairs need %llu descriptors, RLIMIT_NOFILE allows %llu: "
		    "using %llu\n",
		    what, (unsigned long long)want, (unsigned long long)(2 * want),
		    (unsigned long long)(can * 2 + 64), (unsigned long long)can);
	return can;
}

// A nonblocking AF_UNIX stream socketpair (libevent's bench.c uses them).
inline void make_pair(int sv[2]) {
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
}

// The wake-up of the raw rows (as libuv and libev do it): an eventfd that
// any thread may signal; the loop reads it to reset it.
inline int make_eventfd() {
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		die("eventfd");
	return fd;
}
inline void signal_eventfd(int fd) {
	uint64_t one = 1;
	(void)!::write(fd, &one, sizeof one);
}
// True when the eventfd had been signalled (and is reset now).
inline bool consume_eventfd(int fd) {
	uint64_t v;
	return ::read(fd, &v, sizeof v) == sizeof v;
}

// Resident set size in bytes (/proc/self/statm, pages).
inline uint64_t rss_bytes() {
	FILE *f = std::fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;
	if (!f || std::fscanf(f, "%lu %lu", &size, &resident) != 2)
		die("/proc/self/statm");
	std::fclose(f);
	return uint64_t(resident) * uint64_t(sysconf(_SC_PAGESIZE));
}

} // namespace bench
