// The seed's "Enhanced Serialization Example": an object carrying a function travels through a
// Queue and the receiving process calls it. Python needs dill to pickle the lambda; in C++ the
// function is an object of a class registered with Boost.Serialization (BOOST_CLASS_EXPORT), sent
// through a pointer to its base class, carrying its captured state (here the exponent) with it.
#include <boost/serialization/assume_abstract.hpp>
#include <boost/serialization/base_object.hpp>
#include <boost/serialization/export.hpp>
#include <cstdint>
#include <iostream>
#include <memory>
#include <vector>

#include "mpipc/mpipc.h"

// A function from int to int that can be serialized: the C++ stand-in for a pickled lambda.
class Function {
 public:
  virtual ~Function() = default;
  virtual int64_t operator()(int64_t x) const = 0;
  template <class Archive>
  void serialize(Archive& /*ar*/, unsigned /*version*/) {}
};
BOOST_SERIALIZATION_ASSUME_ABSTRACT(Function)

// lambda x: x ** exponent
class Power : public Function {
 public:
  Power() = default;
  explicit Power(int exponent) : exponent_(exponent) {}
  int64_t operator()(int64_t x) const override {
    int64_t r = 1;
    for (int i = 0; i < exponent_; ++i) r *= x;
    return r;
  }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& boost::serialization::base_object<Function>(*this);
    ar& exponent_;
  }

 private:
  int exponent_ = 1;
};
BOOST_CLASS_EXPORT(Power)

// Complex object that requires "dill" serialization: it holds a function.
class ComplexObject {
 public:
  ComplexObject() = default;
  explicit ComplexObject(std::unique_ptr<Function> func) : func_(std::move(func)) {}
  std::vector<int64_t> process() const {
    std::vector<int64_t> out;
    for (const int64_t x : data_) out.push_back((*func_)(x));
    return out;
  }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar& func_;
    ar& data_;
  }

 private:
  std::unique_ptr<Function> func_;
  std::vector<int64_t> data_ = {1, 2, 3, 4, 5};
};

void Worker(mpipc::Queue<std::shared_ptr<ComplexObject>>& q) {
  for (;;) {
    const std::shared_ptr<ComplexObject> obj = q.get();
    if (!obj) break;  // None
    mpipc::List result;
    for (const int64_t v : obj->process()) result.emplace_back(v);
    std::cout << "Worker result: " << mpipc::Value(result).repr() << std::endl;
  }
}

int main() {
  // Create object with a function (the lambda x: x ** 2 of the Python example)
  auto complex_obj = std::make_shared<ComplexObject>(std::make_unique<Power>(2));
  mpipc::Queue<std::shared_ptr<ComplexObject>> queue;
  mpipc::Process p([&queue] { Worker(queue); });
  p.start();
  queue.put(complex_obj);  // Send complex object (serialized inside put)
  queue.put(nullptr);      // Signal completion
  p.join();
  return p.exitcode() == 0 ? 0 : 1;
}
