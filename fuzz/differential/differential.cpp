// SPDX-License-Identifier: MIT
#include "differential.hpp"

#include "../model/model_queue.hpp"
#include "../model/sim_world.hpp"
#include "program.hpp"
#include "real_world.hpp"

#include <kevent/kevent.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <time.h>

namespace kevent_diff {

using kevent_model::model_queue;
using kevent_model::sim_world;

std::vector<backend_choice> all_backends() {
	return {{KEVENT_INIT_EPOLL, "epoll"}, {KEVENT_INIT_URING, "uring"}};
}

std::vector<backend_choice> backends() {
	const char *only = std::getenv("KEVENT_DIFF_BACKEND");
	std::vector<backend_choice> out;
	for (const backend_choice &b : all_backends())
		if (!only || !*only || std::strcmp(only, b.name) == 0)
			out.push_back(b);
	return out;
}

namespace {

// What this process ran, per backend (all_backends() order). Never freed:
// the fuzzer prints it from a static destructor.
std::vector<backend_totals> &totals_table() {
	static auto *t = [] {
		auto *v = new std::vector<backend_totals>;
		for (const backend_choice &b : all_backends())
			v->push_back({b.name, 0, 0, 0});
		return v;
	}();
	return *t;
}

backend_totals &totals_of(const char *name) {
	for (backend_totals &t : totals_table())
		if (std::strcmp(t.name, name) == 0)
			return t;
	return totals_table().front(); // every choice comes from all_backends()
}

std::string entries_differ(const std::vector<ukevent> &lib, const std::vector<ukevent> &model,
			   size_t count) {
	for (size_t i = 0; i < count; i++)
		if (std::memcmp(&lib[i], &model[i], sizeof(ukevent)) != 0)
			return "entry " + std::to_string(i) + ": library " +
			       kevent_model::describe(lib[i]) + ", model " +
			       kevent_model::describe(model[i]);
	return "";
}

class runner {
public:
	runner(int kfd, const program &p, kevent_model::kernel_kind kernel)
	    : kfd_(kfd), sim_(p.kinds), real_(p.kinds), model_(sim_, real_world::first_fd, kernel) {
	}

	bool world_ok() const { return real_.ok(); }

	std::string step(const op &o) {
		switch (o.kind) {
		case op_kind::ctl:
			return ctl(o);
		case op_kind::get_events:
			return get_events(o);
		case op_kind::write:
			model_.on_wakeup(o.slot, sim_.write(o.slot));
			return real_.write(o.slot) ? counters() : "write failed";
		case op_kind::drain:
			model_.on_wakeup(o.slot, sim_.drain(o.slot));
			return real_.drain(o.slot) ? counters() : "drain failed";
		case op_kind::close_peer:
			model_.on_wakeup(o.slot, sim_.close_peer(o.slot));
			return real_.close_peer(o.slot) ? counters() : "close failed";
		case op_kind::close:
			model_.on_close(o.slot);
			sim_.close(o.slot);
			real_.close(o.slot);
			return counters();
		case op_kind::reopen:
			model_.on_close(o.slot);
			sim_.reopen(o.slot, o.file);
			return real_.reopen(o.slot, o.file) ? counters() : "reopen failed";
		}
		return "";
	}

private:
	std::string ctl(const op &o) {
		std::vector<ukevent> lib = o.entries, mod = o.entries;
		unsigned num = static_cast<unsigned>(lib.size());
		int r = kevent_ctl(kfd_, o.cmd, num, num ? lib.data() : nullptr);
		if (r < 0)
			return std::string("kevent_ctl failed: ") + std::strerror(errno);
		int m = model_.ctl(o.cmd, mod);
		if (trace_)
			for (int i = 0; i < r && o.cmd == KEVENT_CTL_ADD; i++)
				std::fprintf(stderr, "\tcopied back %s\n",
					     kevent_model::describe(lib[size_t(i)]).c_str());
		if (r != m)
			return "kevent_ctl returned " + std::to_string(r) + ", model " +
			       std::to_string(m);
		// What the call defines: ADD's compacted copies, READY's
		// not-found copies, every entry of REMOVE/MODIFY.
		size_t defined = o.cmd == KEVENT_CTL_ADD     ? size_t(r)
				 : o.cmd == KEVENT_CTL_READY ? num - size_t(r)
							     : num;
		if (std::string d = entries_differ(lib, mod, defined); !d.empty())
			return d;
		return counters();
	}

	std::string get_events(const op &o) {
		std::vector<ukevent> buf(64);
		timespec ts{};
		const timespec *tp = &ts;
		unsigned flags = 0;
		switch (o.timeout) {
		case timeout_kind::zero:
			break;
		case timeout_kind::abstime_past:
			flags = KEVENT_FLAGS_ABSTIME; // time 0: long past
			break;
		case timeout_kind::none:
			if (o.min_nr == 0)
				tp = nullptr; // min_nr 0 never blocks
			break;
		case timeout_kind::one_ms:
			ts.tv_nsec = 1000000;
			break;
		}
		if (o.max_nr == 0 || o.min_nr > o.max_nr) {
			errno = 0;
			int r = kevent_get_events(kfd_, o.min_nr, o.max_nr, tp, buf.data(), flags);
			if (r != -1 || errno != EINVAL)
				return "bad min_nr/max_nr accepted: " + std::to_string(r);
			return counters();
		}
		unsigned max_nr = model_.settle_max(o.max_nr);
		unsigned min_nr = o.min_nr > max_nr ? max_nr : o.min_nr;
		if (max_nr > buf.size())
			buf.resize(max_nr);
		int r = kevent_get_events(kfd_, min_nr, max_nr, tp, buf.data(), flags);
		if (r < 0)
			return std::string("kevent_get_events failed: ") + std::strerror(errno);
		if (trace_)
			for (int i = 0; i < r; i++)
				std::fprintf(stderr, "\tgot %s\n",
					     kevent_model::describe(buf[i]).c_str());
		model_queue::get_call call{min_nr, max_nr, o.timeout == timeout_kind::one_ms};
		std::string d = model_.take(call, buf.data(), r);
		if (d == model_queue::inconclusive)
			return d;
		if (!d.empty())
			return "get_events(max " + std::to_string(max_nr) + "): " + d;
		return counters();
	}

	// The counters the library keeps must agree with the model's.
	std::string counters() {
		kevent_stats st{};
		if (kevent_get_stats(kfd_, &st, sizeof st) < 0)
			return std::string("kevent_get_stats failed: ") + std::strerror(errno);
		auto differ = [](const char *what, uint64_t lib, uint64_t mod) {
			return std::string(what) + ": library " + std::to_string(lib) + ", model " +
			       std::to_string(mod);
		};
		if (st.registered != model_.registered())
			return differ("registered", st.registered, model_.registered());
		if (st.ready != model_.ready())
			return differ("ready", st.ready, model_.ready()) +
			       "; the model's ready list: " + model_.describe_ready();
		if (st.delivered != model_.delivered())
			return differ("delivered", st.delivered, model_.delivered());
		if (st.broken != model_.broken_delivered())
			return differ("broken", st.broken, model_.broken_delivered());
		return "";
	}

	int kfd_;
	bool trace_ = [] {
		const char *t = std::getenv("KEVENT_DIFF_TRACE");
		return t && *t == '1';
	}();
	sim_world sim_;
	real_world real_;
	model_queue model_;
};

std::string run_on(const backend_choice &b, const program &p, bool &ran) {
	ran = false;
	int kfd = kevent_init(nullptr, 0, b.flags);
	if (kfd < 0) {
		if (errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)
			return ""; // not offered here
		return std::string("kevent_init: ") + std::strerror(errno);
	}
	ran = true;
	std::string failure;
	backend_totals &t = totals_of(b.name);
	t.programs++;
	{
		auto kernel = b.flags == KEVENT_INIT_URING ? kevent_model::kernel_kind::uring
							   : kevent_model::kernel_kind::epoll;
		runner run(kfd, p, kernel);
		if (!run.world_ok())
			failure = "could not open the slots' files";
		// KEVENT_DIFF_TRACE=1: print each operation (to replay a crash).
		const char *trace = std::getenv("KEVENT_DIFF_TRACE");
		for (size_t i = 0; failure.empty() && i < p.ops.size(); i++) {
			if (trace && *trace == '1')
				std::fprintf(stderr, "[%s] op %zu: %s\n", b.name, i,
					     describe(p.ops[i]).c_str());
			t.operations++;
			std::string d = run.step(p.ops[i]);
			if (d == model_queue::inconclusive)
				break; // the rest of the program is not comparable
			if (!d.empty())
				failure = "op " + std::to_string(i) + " (" + describe(p.ops[i]) +
					  "): " + d;
		}
	}
	if (kevent_close(kfd) != 0 && failure.empty())
		failure = std::string("kevent_close: ") + std::strerror(errno);
	kevent_stats st{};
	kevent_get_stats(-1, &st, sizeof st);
	if (failure.empty() && (st.queues || st.registered || st.inflight_io))
		failure = "leak after kevent_close: queues " + std::to_string(st.queues) +
			  ", registered " + std::to_string(st.registered);
	if (!failure.empty()) {
		t.divergences++;
		failure = std::string("[") + b.name + "] " + failure;
	}
	return failure;
}

} // namespace

std::vector<backend_totals> totals() { return totals_table(); }

std::string run_differential_on(const backend_choice &b, const uint8_t *data, size_t size,
				bool &ran) {
	return run_on(b, decode(data, size), ran);
}

std::string run_differential(const uint8_t *data, size_t size, unsigned *ran) {
	program p = decode(data, size);
	if (ran)
		*ran = 0;
	for (const backend_choice &b : backends()) {
		bool did = false;
		std::string f = run_on(b, p, did);
		if (ran)
			*ran += did;
		if (!f.empty())
			return f;
	}
	return "";
}

} // namespace kevent_diff
