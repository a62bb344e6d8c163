// SPDX-License-Identifier: MIT
// http.hpp — the HTTP/1.1 subset evserver speaks, in one place: the request
// parser, the fixed responses and the listening socket. The benchmark servers of the other
// libraries (bench/compare) include it too, so that every server of
// `make bench` parses and answers exactly as evserver does.
//
// A request ends at "\r\n\r\n" (request bodies are not supported); every
// request gets the same static "Hello" response; keep-alive unless the
// request says "Connection: close" (or is HTTP/1.0 without
// "Connection: keep-alive").
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace http {

constexpr std::string_view response_keep_alive = "HTTP/1.1 200 OK\r\n"
						 "Content-Type: text/plain\r\n"
						 "Content-Length: 6\r\n"
						 "Connection: keep-alive\r\n"
						 "\r\n"
						 "Hello\n";
constexpr std::string_view response_close = "HTTP/1.1 200 OK\r\n"
					    "Content-Type: text/plain\r\n"
					    "Content-Length: 6\r\n"
					    "Connection: close\r\n"
					    "\r\n"
					    "Hello\n";
constexpr std::string_view response_too_large = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
						"Content-Length: 0\r\n"
						"Connection: close\r\n"
						"\r\n";

// A request head longer than this is refused (431) and the connection closed.
constexpr size_t max_request = 16 * 1024;

inline bool iequals_prefix(std::string_view s, std::string_view prefix) {
	if (s.size() < prefix.size())
		return false;
	for (size_t i = 0; i < prefix.size(); ++i)
		if (std::tolower(static_cast<unsigned char>(s[i])) !=
		    std::tolower(static_cast<unsigned char>(prefix[i])))
			return false;
	return true;
}

inline bool contains_token_ci(std::string_view s, std::string_view token) {
	for (size_t i = 0; i + token.size() <= s.size(); ++i)
		if (iequals_prefix(s.substr(i), token))
			return true;
	return false;
}

// Decides keep-alive for one request head (without the final CRLFCRLF).
inline bool wants_close(std::string_view head) {
	size_t eol = head.find("\r\n");
	std::string_view request_line = head.substr(0, eol);
	bool http10 = request_line.size() >= 8 &&
		      request_line.substr(request_line.size() - 8) == "HTTP/1.0";
	bool close = http10;
	size_t pos = eol;
	while (pos != std::string_view::npos && pos < head.size()) {
		size_t start = pos + 2;
		size_t end = head.find("\r\n", start);
		std::string_view line =
			head.substr(start, end == std::string_view::npos ? end : end - start);
		if (iequals_prefix(line, "connection:")) {
			std::string_view value = line.substr(11);
			if (contains_token_ci(value, "close"))
				close = true;
			else if (contains_token_ci(value, "keep-alive"))
				close = false;
		}
		pos = end;
	}
	return close;
}

// What one call of respond() did.
struct parsed {
	unsigned long requests = 0;
	bool too_large = false; // answered 431; the connection must close
};

// Answers every complete request head at the front of `in`: appends the
// responses to `out`, erases the heads from `in`, and sets `close_after` once
// a response says "Connection: close" (nothing after it is parsed).
inline parsed respond(std::string &in, std::string &out, bool &close_after) {
	parsed r;
	size_t start = 0;
	while (!close_after) {
		size_t end = in.find("\r\n\r\n", start);
		if (end == std::string::npos)
			break;
		std::string_view head(in.data() + start, end - start);
		++r.requests;
		if (wants_close(head)) {
			out.append(response_close);
			close_after = true;
		} else {
			out.append(response_keep_alive);
		}
		start = end + 4;
	}
	in.erase(0, start);
	if (!close_after && in.size() > max_request) {
		r.too_large = true;
		out.append(response_too_large);
		close_after = true;
		in.clear();
	}
	return r;
}

// A nonblocking listening socket on 127.0.0.1:port (0: an ephemeral port);
// -1 with errno on failure.
inline int open_listener(unsigned port) {
	int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sockaddr_in sa{};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(static_cast<uint16_t>(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (::bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 ||
	    ::listen(fd, 4096) < 0) {
		int e = errno;
		::close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

} // namespace http
