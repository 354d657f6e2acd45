/*
 * loader.cpp - the client API from C++: a small RAII owner of the handle, objects read
 * into std::vector, errors turned into exceptions at the boundary the program chooses.
 * lota's headers carry extern "C", so nothing else is needed.
 *
 *   example_loader_cpp BUCKET KEY...
 *
 * Prints "KEY SIZE FNV1A64" per object. Exit status 0, 1 on an error, 2 usage.
 */
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <lota/client.h>

namespace
{

struct client_free {
	void operator()(lota_client *c) const
	{
		lota_client_free(c);
	}
};
using client_ptr = std::unique_ptr<lota_client, client_free>;

std::string describe(const lota_client_error &e)
{
	char msg[1024];
	return lota_client_error_format(&e, msg, sizeof(msg));
}

client_ptr open_client()
{
	lota_client_error e{};
	lota_client_opts o{};
	o.sz = sizeof(o);
	o.err = &e;
	lota_client *c = nullptr;
	if (lota_client_new(&o, &c) != 0)
		throw std::runtime_error(e.message);
	return client_ptr(c);
}

std::vector<unsigned char> read_object(lota_client *c, const std::string &bucket,
                                       const std::string &key)
{
	lota_client_error e{};
	lota_object_info info{};
	if (lota_client_head(c, bucket.c_str(), key.c_str(), &info, &e) != 0)
		throw std::runtime_error(key + ": " + describe(e));
	std::vector<unsigned char> data(info.size_bytes);
	size_t got = 0;
	if (lota_client_get_buffer(c, bucket.c_str(), key.c_str(), data.data(), data.size(),
	                           nullptr, &got, nullptr, &e) != 0)
		throw std::runtime_error(key + ": " + describe(e));
	data.resize(got);
	return data;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc < 3) {
		std::fprintf(stderr, "usage: %s BUCKET KEY...\n", argv[0]);
		return 2;
	}
	try {
		client_ptr c = open_client();
		for (int i = 2; i < argc; i++) {
			std::vector<unsigned char> d = read_object(c.get(), argv[1], argv[i]);
			std::uint64_t h = 1469598103934665603ull;
			for (unsigned char b : d)
				h = (h ^ b) * 1099511628211ull;
			std::printf("%s %zu %016llx\n", argv[i], d.size(), (unsigned long long)h);
		}
	} catch (const std::exception &ex) {
		std::fprintf(stderr, "%s\n", ex.what());
		return 1;
	}
	return 0;
}
