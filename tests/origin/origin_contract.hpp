// SPDX-License-Identifier: MIT
// origin_contract.hpp — the common contract every origin passes, written once
// and instantiated by each tests/origin/<origin>_test.cpp.
//
// An origin file describes its watched object as a *Target* class and then
// expands the case lists below for a fixture `Contract<Target>`:
//
//   using SocketContract = kevent_origin::Contract<SocketTarget>;
//   KEVENT_ORIGIN_CONTRACT(SocketContract)            // every origin
//   KEVENT_ORIGIN_CONTRACT_CONDITION(SocketContract)  // readiness is a state
//   KEVENT_ORIGIN_CONTRACT_BROKEN(SocketContract)     // the origin can break
//   KEVENT_ORIGIN_CONTRACT_FD(SocketContract)         // id.raw[0] is an fd
//   KEVENT_INSTANTIATE_BACKENDS(SocketContract);
//
// The case bodies are member templates of Contract<Target>, declared in
// origin_contract_fixture.hpp and defined by topic, each file with the case
// list of its group:
//   origin_contract_registration.hpp  ADD, REMOVE, MODIFY      } every origin:
//   origin_contract_delivery.hpp      modes, ready at ADD      } KEVENT_ORIGIN_CONTRACT
//   origin_contract_queues.hpp        two queues, close        }
//   origin_contract_condition.hpp     KEVENT_ORIGIN_CONTRACT_CONDITION
//   origin_contract_broken.hpp        KEVENT_ORIGIN_CONTRACT_BROKEN
//   origin_contract_fd.hpp            KEVENT_ORIGIN_CONTRACT_FD
// The macros only give each case a TEST_P named after the rule it checks.
//
// A Target provides:
//   static constexpr unsigned type;         // KEVENT_SOCKET ...
//   explicit Target(int n);                  // the n-th object: distinct keys for distinct n
//   uint64_t id() const; unsigned event() const;
//   void on_added();                         // called after a successful ADD
//   void trigger(int q);                     // new activity, visible once it returns
//                                            // (q: the queue, for origins triggered through it)
//   void check_fired(const ukevent &) const; // ret_data of a delivery after trigger()
//   void make_ready_before_add(ukevent &);   // the origin's own "ready at ADD"
//   void check_ready_at_add(const ukevent &) const;
// and, by group:
//   CONDITION: void consume();               // make it not ready any more (read the data)
//   BROKEN:    void break_it(); void check_broken(const ukevent &) const;
//   FD:        int fd() const; void close_watched(); void take_number(int n);
//              (take_number: move this target's watched fd onto number n)
#pragma once

#include "origin_contract_broken.hpp"
#include "origin_contract_condition.hpp"
#include "origin_contract_delivery.hpp"
#include "origin_contract_fd.hpp"
#include "origin_contract_fixture.hpp"
#include "origin_contract_queues.hpp"
#include "origin_contract_registration.hpp"
#include "origin_support.hpp"

// Every origin: the three groups above, in this order.
#define KEVENT_ORIGIN_CONTRACT(S)              \
	KEVENT_ORIGIN_CONTRACT_REGISTRATION(S) \
	KEVENT_ORIGIN_CONTRACT_DELIVERY(S)     \
	KEVENT_ORIGIN_CONTRACT_QUEUES(S)
