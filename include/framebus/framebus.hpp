#pragma once
/// @file framebus.hpp
/// Zero-copy shared-memory channels for video frames and tensors between processes.

#include "framebus/admin.hpp"
#include "framebus/batch.hpp"
#include "framebus/classifier.hpp"
#include "framebus/consumer.hpp"
#include "framebus/decoder.hpp"
#include "framebus/error.hpp"
#include "framebus/inference_backend.hpp"
#include "framebus/latency_histogram.hpp"
#include "framebus/message.hpp"
#include "framebus/options.hpp"
#include "framebus/prediction.hpp"
#include "framebus/producer.hpp"
#include "framebus/result.hpp"
#include "framebus/result_sink.hpp"
#include "framebus/version.hpp"
#include "framebus/worker.hpp"
