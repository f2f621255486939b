#pragma once
/// @file framebus.hpp
/// Zero-copy shared-memory channels for video frames and tensors between processes, and the
/// multi-stream pipeline built on them. Includes every module this installation was built with
/// (framebus/modules.hpp says which).

#include "framebus/error.hpp"
#include "framebus/message.hpp"
#include "framebus/modules.hpp"
#include "framebus/units.hpp"
#include "framebus/version.hpp"

#include "framebus/channel/admin.hpp"
#include "framebus/channel/consumer.hpp"
#include "framebus/channel/options.hpp"
#include "framebus/channel/producer.hpp"

#include "framebus/pipeline/batch.hpp"
#include "framebus/pipeline/latency_histogram.hpp"
#include "framebus/pipeline/result.hpp"
#include "framebus/pipeline/result_sink.hpp"
#include "framebus/pipeline/run_stats.hpp"

#if FRAMEBUS_HAS_DECODE
#include "framebus/decode/decoder.hpp"
#include "framebus/decode/probe.hpp"
#include "framebus/pipeline/decoder_process.hpp"
#include "framebus/pipeline/decoder_status.hpp"
#endif

#if FRAMEBUS_HAS_CLASSIFY
#include "framebus/classify/classifier.hpp"
#include "framebus/classify/inference_backend.hpp"
#include "framebus/classify/model.hpp"
#include "framebus/classify/prediction.hpp"
#include "framebus/pipeline/worker.hpp"
#endif

#if FRAMEBUS_HAS_DECODE && FRAMEBUS_HAS_CLASSIFY
#include "framebus/pipeline/children.hpp"
#include "framebus/pipeline/pipeline.hpp"
#include "framebus/pipeline/pipeline_options.hpp"
#endif
