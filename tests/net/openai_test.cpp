// OpenAI request parsing (accept and reject cases) and the exact response shapes.
#include "net/openai.hpp"

#include <gtest/gtest.h>

namespace dgrid::net {
namespace {

using json = nlohmann::json;

CompletionRequest ok(const json& body, bool chat) {
  auto r = parse_completion_request(body.dump(), chat);
  EXPECT_TRUE(r.has_value()) << body.dump() << ": " << (r ? "" : r.error().message);
  return r ? *r : CompletionRequest{};
}

// The rejection message, which must mention `needle`.
void rejects_raw(std::string_view body, bool chat, std::string_view needle) {
  auto r = parse_completion_request(body, chat);
  ASSERT_FALSE(r.has_value()) << body;
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << body << " -> " << r.error().message;
}
void rejects(const json& body, bool chat, std::string_view needle) { rejects_raw(body.dump(), chat, needle); }

TEST(OpenAiParse, MinimalCompletion) {
  auto r = ok({{"model", "stories260k"}, {"prompt", "Once upon"}}, false);
  EXPECT_FALSE(r.chat);
  EXPECT_EQ(r.model, "stories260k");
  EXPECT_EQ(r.prompt, "Once upon");
  EXPECT_FALSE(r.max_tokens || r.temperature || r.top_p || r.top_k || r.seed || r.n);
  EXPECT_TRUE(r.stop.empty());
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
}

TEST(OpenAiParse, AllSupportedFields) {
  json body = {{"model", "m"},
               {"prompt", json::array({"single"})},
               {"max_tokens", 16},
               {"temperature", 0.7},
               {"top_p", 1},
               {"top_k", 40},
               {"seed", 18446744073709551615ull},
               {"stop", json::array({"\n", "END"})},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}},
               {"n", 1},
               // Harmless values and unknown fields real clients send.
               {"user", "u1"},
               {"logprobs", nullptr},
               {"echo", false},
               {"best_of", 1},
               {"presence_penalty", 0},
               {"frequency_penalty", 0.0},
               {"logit_bias", json::object()},
               {"metadata", {{"k", "v"}}}};
  auto r = ok(body, false);
  EXPECT_EQ(r.prompt, "single");
  EXPECT_EQ(r.max_tokens, 16u);
  EXPECT_FLOAT_EQ(*r.temperature, 0.7f);
  EXPECT_FLOAT_EQ(*r.top_p, 1.0f);
  EXPECT_EQ(r.top_k, 40u);
  EXPECT_EQ(r.seed, 18446744073709551615ull);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.n, 1u);

  auto single = ok({{"model", "m"}, {"prompt", "p"}, {"stop", "###"}, {"temperature", 0}, {"max_tokens", nullptr}}, false);
  EXPECT_EQ(single.stop, (std::vector<std::string>{"###"}));
  EXPECT_EQ(*single.temperature, 0.0f);
  EXPECT_FALSE(single.max_tokens);  // null means absent
}

TEST(OpenAiParse, ChatMessagesStringAndTextParts) {
  json body = {{"model", "m"},
               {"messages", json::array({{{"role", "system"}, {"content", "be brief"}},
                                         {{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}})}, {"name", "bob"}},
                                         {{"role", "assistant"}, {"content", "ok"}},
                                         {{"role", "developer"}, {"content", ""}}})},
               {"max_completion_tokens", 8},
               {"max_tokens", 100},
               {"logprobs", false},
               {"tool_choice", "none"},
               {"tools", json::array()},
               {"response_format", {{"type", "text"}}}};
  auto r = ok(body, true);
  EXPECT_TRUE(r.chat);
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[0].content, "be brief");
  EXPECT_EQ(r.messages[1].content, "a\nb");
  EXPECT_EQ(r.messages[2].role, "assistant");
  EXPECT_EQ(r.messages[3].content, "");
  EXPECT_EQ(r.max_tokens, 8u);  // max_completion_tokens wins
}

TEST(OpenAiParse, RejectsBadBodiesAndMissingFields) {
  rejects_raw("{not json", false, "not valid JSON");
  rejects_raw("[1,2]", false, "JSON object");
  rejects(json{{"prompt", "p"}}, false, "model is required");
  rejects(json{{"model", ""}, {"prompt", "p"}}, false, "model must be a non-empty string");
  rejects(json{{"model", 7}, {"prompt", "p"}}, false, "model must be a non-empty string");
  rejects(json{{"model", "m"}}, false, "prompt is required");
  rejects(json{{"model", "m"}, {"prompt", 5}}, false, "prompt must be a string");
  rejects(json{{"model", "m"}, {"prompt", {1, 2, 3}}}, false, "token ids is not supported");
  rejects(json{{"model", "m"}, {"prompt", json::array({json::array({1, 2})})}}, false, "token ids is not supported");
  rejects(json{{"model", "m"}, {"prompt", {"a", "b"}}}, false, "batches of prompts are not supported");
  rejects(json{{"model", "m"}}, true, "messages is required");
  rejects(json{{"model", "m"}, {"messages", json::array()}}, true, "messages must be a non-empty array");
}

TEST(OpenAiParse, RejectsOutOfRangeValuesNamingTheField) {
  json base = {{"model", "m"}, {"prompt", "p"}};
  auto with = [&](const char* k, json v) {
    json b = base;
    b[k] = std::move(v);
    return b;
  };
  rejects(with("temperature", 2.5), false, "temperature must be between 0 and 2");
  rejects(with("temperature", -0.1), false, "temperature must be between 0 and 2");
  rejects(with("temperature", "hot"), false, "temperature must be a number");
  rejects(with("top_p", 0), false, "top_p must be greater than 0 and at most 1");
  rejects(with("top_p", 1.5), false, "top_p must be greater than 0 and at most 1");
  rejects(with("max_tokens", 0), false, "max_tokens must be an integer between 1 and 4294967295");
  rejects(with("max_tokens", -5), false, "max_tokens must be an integer");
  rejects(with("max_tokens", 10.5), false, "max_tokens must be an integer");
  rejects(with("max_tokens", 4294967296ull), false, "max_tokens must be an integer");
  rejects(with("max_completion_tokens", "8"), false, "max_completion_tokens must be an integer");
  rejects(with("top_k", -1), false, "top_k must be an integer");
  rejects(with("seed", -1), false, "seed must be an integer between 0 and");
  rejects(with("seed", 1.5), false, "seed must be an integer");
  rejects(with("stop", json::array({"a", "b", "c", "d", "e"})), false, "stop may hold at most 4 sequences");
  rejects(with("stop", json::array({"a", 1})), false, "stop must be a string or an array of strings");
  rejects(with("stop", 3), false, "stop must be a string or an array of strings");
  rejects(with("stop", ""), false, "stop sequences must not be empty");
  rejects(with("stream", "yes"), false, "stream must be true or false");
  rejects(with("stream_options", true), false, "stream_options must be an object");
  rejects(with("stream_options", {{"include_usage", 1}}), false, "stream_options.include_usage must be true or false");
}

TEST(OpenAiParse, RejectsUnsupportedSemantics) {
  json base = {{"model", "m"}, {"prompt", "p"}};
  auto with = [&](const char* k, json v) {
    json b = base;
    b[k] = std::move(v);
    return b;
  };
  rejects(with("n", 2), false, "n must be 1");
  rejects(with("n", 0), false, "n must be an integer between 1");
  rejects(with("logprobs", 3), false, "logprobs is not supported");
  rejects(with("logprobs", true), false, "logprobs is not supported");
  rejects(with("top_logprobs", 2), false, "top_logprobs is not supported");
  rejects(with("echo", true), false, "echo is not supported");
  rejects(with("best_of", 3), false, "best_of must be 1");
  rejects(with("suffix", "tail"), false, "suffix is not supported");
  rejects(with("logit_bias", {{"50256", -100}}), false, "logit_bias is not supported");
  rejects(with("presence_penalty", 0.5), false, "presence_penalty is not supported");
  rejects(with("frequency_penalty", "x"), false, "frequency_penalty must be a number");

  json chat = {{"model", "m"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  auto chat_with = [&](const char* k, json v) {
    json b = chat;
    b[k] = std::move(v);
    return b;
  };
  rejects(chat_with("tools", json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}})), true, "tools are not supported");
  rejects(chat_with("functions", json::array({{{"name", "f"}}})), true, "functions are not supported");
  rejects(chat_with("tool_choice", "required"), true, "tool_choice is not supported");
  rejects(chat_with("response_format", {{"type", "json_object"}}), true, "response_format type \"json_object\" is not supported");
  rejects(chat_with("response_format", "json"), true, "response_format type \"json\" is not supported");
  rejects(chat_with("audio", {{"voice", "alloy"}}), true, "audio output is not supported");
  rejects(chat_with("modalities", {"text", "audio"}), true, "modalities \"audio\" is not supported");
}

TEST(OpenAiParse, RejectsBadMessages) {
  auto msgs = [](json m) { return json{{"model", "m"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}, std::move(m)})}}; };
  rejects(msgs("hello"), true, "messages[1] must be an object");
  rejects(msgs({{"content", "x"}}), true, "messages[1].role must be a string");
  rejects(msgs({{"role", "robot"}, {"content", "x"}}), true, "messages[1].role must be one of system, developer, user, assistant; got \"robot\"");
  rejects(msgs({{"role", "tool"}, {"content", "x"}, {"tool_call_id", "1"}}), true, "messages[1].role \"tool\" is not supported");
  rejects(msgs({{"role", "assistant"}, {"content", nullptr}}), true, "messages[1].content is required");
  rejects(msgs({{"role", "assistant"}, {"content", "x"}, {"tool_calls", json::array({{{"id", "1"}}})}}), true,
          "messages[1].tool_calls is not supported");
  rejects(msgs({{"role", "user"}, {"content", 42}}), true, "messages[1].content must be a string or an array of text parts");
  rejects(msgs({{"role", "user"}, {"content", json::array({{{"type", "image_url"}, {"image_url", {{"url", "x"}}}}})}}), true,
          "messages[1].content[0].type \"image_url\" is not supported");
  rejects(msgs({{"role", "user"}, {"content", json::array({{{"type", "text"}}})}}), true, "messages[1].content[0].text must be a string");
  rejects(msgs({{"role", "user"}, {"content", json::array({"bare"})}}), true, "messages[1].content[0] must be an object with a type");
}

TEST(OpenAiBuild, NonStreamingShapes) {
  Usage u{5, 3};
  EXPECT_EQ(completion_response("cmpl-1", 1700000000, "stories260k", "Once", "length", u),
            json::parse(R"({"id":"cmpl-1","object":"text_completion","created":1700000000,"model":"stories260k",
              "choices":[{"index":0,"text":"Once","logprobs":null,"finish_reason":"length"}],
              "usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}})"));
  EXPECT_EQ(chat_response("chatcmpl-1", 1700000000, "m", "Hi!", "stop", u),
            json::parse(R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m",
              "choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"logprobs":null,"finish_reason":"stop"}],
              "usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}})"));
}

TEST(OpenAiBuild, StreamChunkShapes) {
  EXPECT_EQ(chat_chunk("c", 1, "m", {.role = "assistant", .content = ""}, std::nullopt),
            json::parse(R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
              "choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})"));
  EXPECT_EQ(chat_chunk("c", 1, "m", {.role = std::nullopt, .content = "tok"}, std::nullopt, /*include_usage=*/true),
            json::parse(R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
              "choices":[{"index":0,"delta":{"content":"tok"},"logprobs":null,"finish_reason":null}],"usage":null})"));
  EXPECT_EQ(chat_chunk("c", 1, "m", {}, "stop"),
            json::parse(R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m",
              "choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})"));
  EXPECT_EQ(completion_chunk("k", 2, "m", " there", std::nullopt),
            json::parse(R"({"id":"k","object":"text_completion","created":2,"model":"m",
              "choices":[{"index":0,"text":" there","logprobs":null,"finish_reason":null}]})"));
  EXPECT_EQ(usage_chunk(true, "c", 1, "m", {2, 4}),
            json::parse(R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],
              "usage":{"prompt_tokens":2,"completion_tokens":4,"total_tokens":6}})"));
  EXPECT_EQ(usage_chunk(false, "k", 2, "m", {1, 1})["object"], "text_completion");
}

TEST(OpenAiBuild, ModelList) {
  EXPECT_EQ(model_list({{.id = "stories260k", .created = 5}}),
            json::parse(R"({"object":"list","data":[{"id":"stories260k","object":"model","created":5,"owned_by":"dgrid"}]})"));
  EXPECT_EQ(model_list({}), json::parse(R"({"object":"list","data":[]})"));
}

}  // namespace
}  // namespace dgrid::net
