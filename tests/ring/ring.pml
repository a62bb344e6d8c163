/* SPDX-License-Identifier: MIT */
/*
 * ring.pml — a Promela model of the kevent ring (kevent_wait(3),
 * docs/semantics.md "The ring") and of the multi-consumer protocol of
 * kevent::ring_consumers (kevent.hpp, kevent_commit(3)).
 *
 * Processes
 *   producer   the thread that calls kevent_wait: it reads the consumers'
 *              `released` position (old_uidx = released % N), then the
 *              library, atomically as under the queue lock, sleeps until the
 *              view is stale or there is room and an event, and either
 *              returns 0 (stale view: nothing moved) or fills slots from kidx
 *              while there is room (full flag when kidx reaches uidx) and
 *              publishes kidx. It may also time out (return 0). Then it adds
 *              what was moved to `produced` (ring_consumers::wait).
 *   consumer×2 claim [c, c+n) by compare-and-swap of `claimed`, read the
 *              slots, wait until released == c, commit in order with
 *              new_uidx = (c+n) % N and over = c / N (a whole ring in two
 *              commits: to c+n-1, then to c+n), then set released = c+n.
 *   The library's kevent_commit is modelled check by check: new_uidx >= N
 *   -> EINVAL; over neither the wrap count nor one less -> EOVERFLOW; equal
 *   -> 0; across kidx -> EINVAL; a wrap increments the wrap count.
 *
 * Events carry their sequence number, which must equal the virtual position
 * of the slot they are read from.
 *
 * Assertions
 *   - the library never writes a slot that holds an unreleased event;
 *   - a consumer reads, at position v, the event v (not overwritten, not
 *     stale), and no position is consumed twice;
 *   - every kevent_commit of a correct consumer succeeds with the expected
 *     count (the EINVAL/EOVERFLOW branches are never taken);
 *   - at the end every event was consumed exactly once, and the library's
 *     uidx / wrap count / kidx agree with the consumers' positions.
 * No invalid end state: nobody is left blocked when the events run out.
 *
 * Reachability (-DREACH=k): the end assertion is replaced by "situation k
 * never happened", which pan must refute (errors: 1): 1 stale old_uidx,
 * 2 full ring, 3 whole-ring two-step commit, 4 wrapping commit, 5 a wait
 * blocked on a full ring, 6 a timeout.
 */

#ifndef N
#define N 3        /* ring size */
#endif
#ifndef E
#define E 7        /* events produced in all: more than two laps */
#endif
#define MAXCLAIM N /* a claim may take the whole ring */
#define EINVAL 255
#define EOVERFLOW 254

/* the library (under the queue lock) */
byte kidx, uidx, lover; /* producer index, consumer index, wrap count */
bool isfull; /* the full flag ("full" is a Promela keyword) */
byte lib_total;         /* events moved in so far (virtual kidx) */
byte slot[N];           /* event (sequence number) in each slot */
bool busy[N];           /* filled and not yet released */

/* ring_consumers */
byte produced, claimed, released;
bool seen[E];

/* scratch of atomic sequences only: not part of the state */
hidden byte used, rel, i, v;

/* reachability witnesses */
bool stale_seen, full_seen, whole_seen, wrap_seen, fullwait_seen, timeout_seen;

/* kevent_commit(new_uidx, over) -> res: count released, or EINVAL/EOVERFLOW */
inline lib_commit(nu, ov, res) {
	d_step {
		if
		:: nu >= N -> res = EINVAL
		:: else ->
			if
			:: ov != lover && ov + 1 != lover -> res = EOVERFLOW
			:: else ->
				if
				:: nu == uidx -> res = 0
				:: else ->
					used = (isfull -> N : (kidx + N - uidx) % N);
					rel = (nu < uidx -> N - (uidx - nu) : nu - uidx);
					if
					:: rel > used -> res = EINVAL
					:: else ->
						i = 0;
						do
						:: i < rel -> busy[(uidx + i) % N] = 0; i++
						:: else -> break
						od;
						if
						:: nu < uidx -> lover++; wrap_seen = 1
						:: else -> skip
						fi;
						uidx = nu;
						isfull = 0;
						res = rel
					fi;
					used = 0;
					rel = 0;
					i = 0
				fi
			fi
		fi
	}
}

proctype producer() {
	byte old, num, n, room;
	do
	:: produced == E -> break
	:: else ->
		old = released % N; /* may be stale by the time of the call */
		select(num : 1 .. N);
		n = 0;
		if
		:: atomic {
			/* kevent_wait: sleeps until stale, or room and an event */
			(old != uidx || (!isfull && lib_total < E)) ->
			if
			:: old != uidx -> stale_seen = 1 /* returns 0, moves nothing */
			:: else ->
				room = (isfull -> 0 : (kidx >= uidx -> N - (kidx - uidx) : uidx - kidx));
				do
				:: n < num && n < room && lib_total < E ->
					assert(!busy[kidx]); /* never overwrite an unreleased slot */
					slot[kidx] = lib_total;
					busy[kidx] = 1;
					lib_total++;
					kidx = (kidx + 1) % N;
					n++
				:: else -> break
				od;
				isfull = (n > 0 && kidx == uidx);
				if
				:: isfull -> full_seen = 1
				:: else -> skip
				fi
			fi
		   }
		:: atomic { isfull && old == uidx -> fullwait_seen = 1 } /* blocked on a full ring... */
		   /* ...until the timeout below or a commit */
		:: timeout_seen = 1 /* timeout or forced wake-up: returns 0 */
		fi;
		atomic { produced = produced + n; old = 0; num = 0; n = 0; room = 0 } /* fetch_add */
	od
}

proctype consumer() {
	byte c, p, n, from, res;
	bool ok;
	do
	:: claimed == E -> break
	:: else ->
		/* claim() found nothing: wait (in real life, wait()) */
		(claimed == E || claimed < produced);
		c = claimed;
		p = produced;
		if
		:: c < p ->
			select(n : 1 .. MAXCLAIM);
			if
			:: n > p - c -> n = p - c
			:: else -> skip
			fi;
			atomic { /* compare-and-swap */
				if
				:: claimed == c -> claimed = c + n; ok = 1
				:: else -> ok = 0
				fi
			}
			if
			:: ok ->
				d_step { /* read the claimed entries */
					v = c;
					do
					:: v < c + n ->
						assert(busy[v % N] && slot[v % N] == v);
						assert(!seen[v]);
						seen[v] = 1;
						v++
					:: else -> break
					od;
					v = 0
				}
				released == c; /* commits in claim order */
				from = c;
				if
				:: n == N -> /* equal would release nothing: two commits */
					lib_commit((c + n - 1) % N, from / N, res);
					assert(res == N - 1);
					from = c + n - 1;
					whole_seen = 1
				:: else -> skip
				fi;
				lib_commit((c + n) % N, from / N, res);
				assert(res == c + n - from);
				atomic { released = c + n; from = 0; res = 0 }
			:: else -> skip /* lost the CAS: try again */
			fi;
			n = 0
		:: else -> skip
		fi;
		atomic { c = 0; p = 0; ok = 0 }
	od
}

init {
	atomic {
		run producer();
		run consumer();
		run consumer()
	}
	_nr_pr == 1; /* everyone finished */
#ifndef REACH
	d_step {
		v = 0;
		do
		:: v < E -> assert(seen[v]); v++
		:: else -> break
		od
	}
	assert(released == E && claimed == E && produced == E && lib_total == E);
	assert(uidx == E % N && kidx == E % N && lover == E / N && !isfull);
#else
#if REACH == 1
	assert(!stale_seen)
#elif REACH == 2
	assert(!full_seen)
#elif REACH == 3
	assert(!whole_seen)
#elif REACH == 4
	assert(!wrap_seen)
#elif REACH == 5
	assert(!fullwait_seen)
#else
	assert(!timeout_seen)
#endif
#endif
}
